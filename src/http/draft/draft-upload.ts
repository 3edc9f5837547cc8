import type { IncomingMessage } from 'node:http';
import { Metadata } from '@tus/utils';
import { parse as parseDisposition } from 'content-disposition';
import { appError } from '../../errors/app-error.js';
import { metadataForCreation } from '../endpoint/creation-hook.js';
import type { Exchange } from './exchange.js';
import { PARTIAL_UPLOAD } from './interop.js';

export type UploadMetadata = Record<string, string | null>;

/**
 * What a draft creation says of the file, as tus metadata: its media type
 * (Content-Type, unless it is the draft's own application/partial-upload) and
 * name (Content-Disposition's filename; the draft: the server "MAY interpret"
 * them), and tus's Upload-Metadata, which tus-js-client sends in either
 * protocol and which wins where both speak.
 */
export function metadataOf(req: IncomingMessage): UploadMetadata | undefined {
  const metadata: UploadMetadata = {};
  const type = req.headers['content-type']?.trim();
  if (type && type.split(';')[0]?.trim().toLowerCase() !== PARTIAL_UPLOAD) metadata.filetype = type;
  const disposition = req.headers['content-disposition'];
  if (disposition) {
    let filename: string | undefined;
    try {
      filename = parseDisposition(disposition).parameters.filename;
    } catch {
      throw appError('INVALID_FIELD', {
        field: 'Content-Disposition',
        expected: 'a valid disposition, such as attachment; filename="photo.jpg"',
      });
    }
    if (filename) metadata.filename = filename;
  }
  const tus = req.headers['upload-metadata'];
  if (tus) {
    try {
      Object.assign(metadata, Metadata.parse(String(tus)));
    } catch {
      throw appError('INVALID_METADATA');
    }
  }
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}

/** The metadata a draft creation's upload gets, once the pre-create hook (if any) has seen it (it may refuse by throwing). */
export async function metadataAfterHook(
  x: Pick<Exchange, 'req' | 'deps' | 'input'>,
  id: string,
  size: number | undefined,
  metadata: UploadMetadata | undefined,
): Promise<UploadMetadata | undefined> {
  const { req, deps, input } = x;
  const url = new URL(req.url, 'http://host').pathname;
  const creation = { upload: { id, size, metadata }, method: 'POST', url, headers: req.headers };
  return (await metadataForCreation(deps.preCreate, input, creation)) ?? undefined;
}
