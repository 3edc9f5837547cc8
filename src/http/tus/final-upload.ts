import type { IncomingMessage } from 'node:http';
import { Metadata } from '@tus/utils';
import type { Request, Response } from 'express';
import type { Config } from '../../config/load-config.js';
import { appError } from '../../errors/app-error.js';
import { metadataFromPreCreate, type PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import type { Caller } from '../../uploads/model/caller.js';
import { publicOrigin, uploadUrl } from '../endpoint/headers.js';
import { uploadIdFromPath } from '../endpoint/upload-path.js';
import { sendTusError, tusResponseHeaders } from './tus-headers.js';

export type FinalUploadDeps = Readonly<{
  config: Config;
  concatenation: Concatenation;
  logger: Logger;
  preCreate: PreCreateHook | undefined;
}>;

/**
 * `POST` with `Upload-Concat: final;<url> <url> ...`, which @tus/server
 * cannot do. tus: "The Client MUST NOT include the Upload-Length header in the
 * final upload creation"; the partial URLs "MAY be absolute or relative".
 */
export async function createFinalUpload(
  req: Request,
  res: Response,
  deps: FinalUploadDeps,
  caller: Caller,
): Promise<void> {
  const { config } = deps;
  const headers = tusResponseHeaders(req, config);
  try {
    if (req.headers['tus-resumable'] !== '1.0.0') {
      throw appError('TUS_RESUMABLE_REQUIRED');
    }
    if (req.headers['upload-length'] !== undefined || req.headers['upload-defer-length'] !== undefined) {
      throw appError('FINAL_UPLOAD_WITH_LENGTH');
    }
    const uploadConcat = String(req.headers['upload-concat']);
    const partials = uploadConcat
      .slice('final;'.length)
      .split(' ')
      .filter((url) => url !== '')
      .map((url) => partialId(url, req, config));

    const requested = parseMetadata(req.headers['upload-metadata']);
    const metadata = await metadataFromPreCreate(
      deps.preCreate,
      {
        upload: { id: undefined, size: undefined, metadata: requested ?? {}, owner: caller.owner, concat: 'final' },
        method: 'POST',
        url: req.originalUrl.split('?', 1)[0] as string,
        headers: req.headers,
      },
      requested,
    );
    const { id, created } = await deps.concatenation.concatenate({
      partials,
      uploadConcat,
      metadata,
      owner: caller.owner,
      maxSizeBytes: caller.limits.maxSizeBytes,
    });
    if (!created)
      (req.log ?? deps.logger).info({ uploadId: id }, 'final upload requested again: answering with the existing one');
    res.locals.uploadId = id;
    req.resume();
    res.writeHead(201, { ...headers, Location: uploadUrl(req, id, config), 'Content-Length': '0' }).end();
  } catch (error) {
    sendTusError(req, res, error, config, req.log ?? deps.logger);
  }
}

/** A partial upload URL of this server (same origin, same path), as an ID; anything else is refused, never followed. */
function partialId(url: string, req: IncomingMessage, config: Config): string {
  const { proto, host } = publicOrigin(req, config);
  let parsed: URL;
  try {
    parsed = new URL(url, `${proto}://${host ?? 'localhost'}`);
  } catch {
    throw notAPartialUrl(url);
  }
  const ownHosts = new Set([host, req.headers.host].flatMap((h) => (h ? [normalHost(proto, h)] : [])));
  const id = uploadIdFromPath(parsed.pathname, config.server.tusPath);
  if (!id || !ownHosts.has(parsed.host) || parsed.search !== '' || !/^https?:$/.test(parsed.protocol)) {
    throw notAPartialUrl(url);
  }
  return id;
}

/** `Files.Example.com:80` and `files.example.com` are one host, as URL compares them. */
function normalHost(proto: string, host: string): string {
  try {
    return new URL(`${proto}://${host}`).host;
  } catch {
    return host;
  }
}

const notAPartialUrl = (url: string) => appError('NOT_A_PARTIAL_URL', { url });

function parseMetadata(header: string | string[] | undefined): Record<string, string | null> | undefined {
  if (header === undefined) return undefined;
  try {
    return Metadata.parse(String(header));
  } catch {
    throw appError('INVALID_METADATA');
  }
}
