import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import type { Request, RequestHandler, Response } from 'express';
import type { UploadAccess } from '../auth/upload-access.js';
import type { Config } from '../config/load-config.js';
import { appError, withHeaders } from '../errors/app-error.js';
import type { ByteStore, FetchedBytes } from '../uploads/bytes/byte-store.js';
import type { UploadLifecycle } from '../uploads/lifecycle/upload-lifecycle.js';
import { isUploadId } from '../uploads/model/upload-id.js';
import type { UploadReader } from '../uploads/read/upload-reader.js';
import { speaksDraft } from './draft/interop.js';
import { tusResponseHeaders } from './tus/tus-headers.js';

/** Types a browser may show inline; anything else is a download (no HTML or SVG that could run script). */
const INLINE_TYPES = new Set([
  'text/plain',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/bmp',
  'image/webp',
  'audio/wav',
  'audio/webm',
  'audio/ogg',
  'audio/mpeg',
  'video/mp4',
  'video/webm',
  'video/ogg',
]);
const MIME = /^[a-z]+\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * GET of a completed upload, in place of @tus/server's, which answers 500 for
 * a filename outside Latin-1 or with CR/LF, sends no CORS headers and has no
 * Range support. Content-Disposition is built by `content-disposition`
 * (RFC 6266 with an RFC 5987 `filename*`); Range, If-None-Match and HEAD come
 * from Express's sendFile.
 */
export type DownloadDeps = Readonly<{
  config: Config;
  reader: UploadReader;
  bytes: ByteStore;
  lifecycle: UploadLifecycle;
  access: UploadAccess;
}>;

export function downloadHandler({ config, reader, bytes, lifecycle, access }: DownloadDeps): RequestHandler {
  return async (req, res, next) => {
    // Express routes HEAD to GET handlers; in tus, HEAD asks for the offset. From interop version 9 of the IETF
    // draft, so may a GET that carries Upload-Draft-Interop-Version.
    if (req.method === 'HEAD' || speaksDraft(req)) return next('route');
    const id = (req.params as { id?: string }).id;
    res.set(tusResponseHeaders(req, config));
    if (!isUploadId(id)) throw appError('NOT_AN_UPLOAD_URL');
    await access.check(req, 'read', id);
    const record = await reader.readRecord(id);
    if (record?.status !== 'completed') {
      throw appError('UPLOAD_NOT_FOUND', { detail: 'No completed upload with this ID' });
    }
    const { filename, filetype } = record.metadata ?? {};
    const type = filetype && MIME.test(filetype.toLowerCase()) ? filetype.toLowerCase() : 'application/octet-stream';
    res.set({
      'Content-Type': type,
      'Content-Disposition': contentDisposition(filename ?? undefined, {
        type: INLINE_TYPES.has(type) ? 'inline' : 'attachment',
      }),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'private, no-cache',
    });
    if ((await bytes.bytesStored(id)) === undefined) {
      // Its bytes were moved away (upload.completed invites workers to) or lost: as HEAD answers it.
      await lifecycle.remove(id, 'lost', record);
      throw appError('UPLOAD_GONE');
    }
    const file = bytes.localPath?.(id);
    if (file) {
      // Several ranges are ignored here as on S3 (see singleRange); one is served by sendFile.
      if (singleRange(req.headers.range) === undefined) delete req.headers.range;
      res.sendFile(path.basename(file), { root: path.dirname(file), dotfiles: 'deny', lastModified: true }, (error) => {
        if (error && !res.headersSent) next(error);
      });
      return;
    }
    const fetched = await fetchOf(bytes, id, req);
    if (fetched.status === 404) {
      await lifecycle.remove(id, 'lost', record);
      throw appError('UPLOAD_GONE');
    }
    await sendFetched(req, res, fetched);
  };
}

/**
 * The download as a store without local files serves it (S3, Azure: Range
 * and conditions go to the store). If-Range is decided here, for every such
 * store alike: the range is served only while the file is the version the
 * client names (RFC 9110 §13.1.5: a strong ETag equal to the file's, or a
 * date exactly its Last-Modified); otherwise the whole file (200).
 */
async function fetchOf(bytes: ByteStore, id: string, req: Request): Promise<FetchedBytes> {
  if (!bytes.fetch) throw new Error('this byte store serves no downloads');
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
  const conditions = {
    range: singleRange(header('range')),
    ifNoneMatch: header('if-none-match'),
    ifMatch: header('if-match'),
    ifModifiedSince: header('if-modified-since'),
    ifUnmodifiedSince: header('if-unmodified-since'),
  };
  const fetched = await bytes.fetch(id, conditions);
  const ifRange = header('if-range');
  if (ifRange === undefined || (fetched.status !== 206 && fetched.status !== 416)) return fetched;
  if (fetched.status === 206 && isCurrent(ifRange, fetched.headers)) return fetched;
  fetched.body?.destroy();
  // A 416 names no version: the whole file's answer tells whether the range applied (then the 416 stands).
  const whole = await bytes.fetch(id, { ...conditions, range: undefined });
  if (fetched.status === 416 && isCurrent(ifRange, whole.headers)) {
    whole.body?.destroy();
    return fetched;
  }
  return whole;
}

/** Whether an If-Range validator names the version served: a strong ETag equal to it, or its exact Last-Modified. */
function isCurrent(validator: string, headers: Record<string, string>): boolean {
  const v = validator.trim();
  if (v.startsWith('"')) return v === headers.ETag;
  if (v.startsWith('W/')) return false;
  const date = Date.parse(v);
  return !Number.isNaN(date) && headers['Last-Modified'] !== undefined && date === Date.parse(headers['Last-Modified']);
}

/**
 * A Range of one byte range, as S3 serves it; several ranges are ignored (RFC 9110 §14.2: a server "MAY ignore
 * the Range header field"), so the whole file is served (200), as from disk: S3 would answer them with a
 * multipart body that names no boundary, and serve overlapping ranges over and over.
 */
function singleRange(range: string | undefined): string | undefined {
  return range !== undefined && /^bytes=(\d+-\d*|-\d+)$/.test(range.trim()) ? range.trim() : undefined;
}

async function sendFetched(req: Request, res: Response, fetched: FetchedBytes): Promise<void> {
  if (fetched.status === 416) throw withHeaders(appError('RANGE_NOT_SATISFIABLE'), fetched.headers);
  if (fetched.status === 412) throw appError('PRECONDITION_FAILED');
  res.status(fetched.status).set(fetched.headers);
  if (!fetched.body || fetched.status === 304 || req.method === 'HEAD') {
    fetched.body?.destroy();
    res.end();
    return;
  }
  // A client that goes away stops the read from S3 too.
  await pipeline(fetched.body, res).catch(() => fetched.body?.destroy());
}
