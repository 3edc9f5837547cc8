import { appError, withHeaders } from '../../errors/app-error.js';
import { corsHeaders, INTEROP_VERSION_HEADER, settleUnreadBody, uploadUrl } from '../endpoint/headers.js';
import { type ContentExchange, createWithContent } from './content.js';
import { metadataOf } from './draft-upload.js';
import { INTEROP_VERSIONS } from './versions.js';

/**
 * A request that names an interop version this server does not speak (11, 42,
 * or not a number). The draft: a server "MUST NOT send the 104 (Upload
 * Resumption Supported) [...] when the interop version [...] is missing or
 * mismatching"; the request is then an ordinary one. So a creation that
 * carries the whole file (it does not say `Upload-Complete: ?0`, nor
 * `Upload-Incomplete: ?1`) is stored as any upload is: tracked, announced,
 * completed with its SHA-256, and answered as an ordinary creation (201 with
 * Location; nothing of the draft). Anything else of such a version (an
 * incomplete creation, an append, an offset retrieval, a cancellation) is
 * refused with 400 before anything is read or stored: an incomplete upload
 * would be left to a client that cannot resume it with a protocol this server
 * does not know.
 */
export function refuseUnknownVersion(req: ContentExchange['req'], method: string, atEndpoint: boolean): void {
  const incomplete =
    /^\s*\?0/.test(String(req.headers['upload-complete'] ?? '')) ||
    /^\s*\?1/.test(String(req.headers['upload-incomplete'] ?? ''));
  if (method === 'POST' && atEndpoint && !incomplete && req.headers['upload-concat'] === undefined) return;
  throw appError('INTEROP_VERSION_UNSUPPORTED', {
    version: String(req.headers[INTEROP_VERSION_HEADER]),
    supported: INTEROP_VERSIONS,
  });
}

/** A whole upload in one request of an unknown interop version, stored as an ordinary creation (see above). */
export async function ordinaryCreation(x: ContentExchange): Promise<void> {
  const { req, res, deps, input } = x;
  // Its size is its Content-Length; a chunked body's, what arrives.
  const size = input.bodyLength;
  const metadata = metadataOf(req);
  if (size !== undefined && size > deps.uploadStore.maxNewSize(metadata, input.caller)) {
    throw appError('UPLOAD_TOO_LARGE');
  }
  const { upload, end, superseded } = await createWithContent(x, { size, metadata, completes: true }, () => undefined);
  if (superseded && deps.drain.draining) throw withHeaders(appError('SHUTTING_DOWN'), { Connection: 'close' });
  if (superseded) return void res.destroy();
  // A creation sent again (Idempotency-Key) is answered without reading its body: drained if small, else cut.
  settleUnreadBody(req, res);
  if (res.destroyed) return;
  const versions = `${INTEROP_VERSIONS[0]} to ${INTEROP_VERSIONS.at(-1)}`;
  res.writeHead(201, {
    ...corsHeaders(req, deps.config, 'Location, X-Request-Id'),
    Location: uploadUrl(req, upload.id, deps.config),
    'Content-Type': 'text/plain; charset=utf-8',
  });
  res.end(
    `Stored as upload ${upload.id} (${end} bytes). Upload-Draft-Interop-Version ${String(req.headers[INTEROP_VERSION_HEADER])} is not one this server speaks (it speaks ${versions}), so the request was taken as an ordinary upload of the whole file.\n`,
  );
}
