import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { isUploadId } from '../../model/upload-id.js';
import type { FetchConditions, FetchedBytes } from '../byte-store.js';
import { azureCode, azureStatus, describeAzureError } from './azure-client.js';
import { evaluateConditions } from './azure-conditions.js';
import type { AzureContainer } from './azure-container.js';
import type { AzureByteStoreDeps } from './azure-store-deps.js';

/** A Range header's one range (download.ts passes no other), as offsets; undefined when it asks for none. */
function rangeOf(
  range: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = range && /^bytes=(?:(\d+)-(\d*)|-(\d+))$/.exec(range);
  if (!m) return undefined;
  if (m[3] !== undefined) {
    const suffix = Math.min(Number(m[3]), size);
    return suffix === 0 ? 'unsatisfiable' : { start: size - suffix, end: size - 1 };
  }
  const start = Number(m[1]);
  // A last position before the first makes the range invalid: as on disk, nothing can satisfy it.
  if (start >= size || (m[2] !== '' && Number(m[2]) < start)) return 'unsatisfiable';
  return { start, end: m[2] ? Math.min(Number(m[2]), size - 1) : size - 1 };
}

/**
 * GET of a completed upload's blob, with Range and conditional requests
 * (200, 206, 304, 412, 416), the bytes streamed as they come (nothing
 * buffered). The size and ETag come from Redis: they turn a Range into the
 * offset and count Azure takes, and decide the ETag conditions (see
 * evaluateConditions); a range past the end is a 416 once the conditions
 * hold. A missing blob is a 404.
 */
export async function fetchBlob(
  { container, states }: AzureByteStoreDeps,
  id: string,
  conditions: FetchConditions,
): Promise<FetchedBytes> {
  const sealed = (await states.read(id))?.sealed;
  if (!sealed) return { status: 404, headers: {} };
  const { size, etag } = sealed;
  const evaluated = evaluateConditions(conditions, etag);
  if (evaluated.answer === 412) return { status: 412, headers: { ETag: etag } };
  if (evaluated.answer === 304) return { status: 304, headers: await validatorsNow(container, id) };
  const range = rangeOf(conditions.range, size);
  const stall = container.stall();
  try {
    const options = {
      abortSignal: stall.signal,
      conditions: { ifModifiedSince: evaluated.ifModifiedSince, ifUnmodifiedSince: evaluated.ifUnmodifiedSince },
    };
    const blob = container.blob(container.blobName(id));
    if (range === 'unsatisfiable') {
      // The conditions come first (RFC 9110 §13.2.2): 304 or 412 rather than 416 when they say so.
      await blob.getProperties(options);
      stall.disarm();
      return { status: 416, headers: { 'Content-Range': `bytes */${size}` } };
    }
    const reply = range
      ? await blob.download(range.start, range.end - range.start + 1, options)
      : await blob.download(0, undefined, options);
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes' };
    if (reply.contentLength !== undefined) headers['Content-Length'] = String(reply.contentLength);
    if (reply.contentRange) headers['Content-Range'] = reply.contentRange;
    if (reply.etag) headers.ETag = reply.etag;
    if (reply.lastModified) headers['Last-Modified'] = reply.lastModified.toUTCString();
    return {
      status: range ? 206 : 200,
      headers,
      body: Readable.from(container.relay(reply.readableStreamBody, stall)),
    };
  } catch (error) {
    stall.disarm();
    const status = azureStatus(error);
    if (status === 304 || status === 412) return { status, headers: validatorsOf(error, etag) };
    // The blob gone, not the container: a missing (or re-created) container is Azure unavailable, never an
    // upload to forget (download.ts removes the record of one whose bytes are gone).
    if (status === 404 && azureCode(error) === 'BlobNotFound') return { status, headers: {} };
    throw container.failed(error, 'GetBlob');
  }
}

/** A 304's validators, as a 200 would carry them (the ETag, and the Last-Modified only Azure knows). */
async function validatorsNow(container: AzureContainer, id: string): Promise<Record<string, string>> {
  const props = await container.call('GetBlobProperties', (abortSignal) =>
    container.blob(container.blobName(id)).getProperties({ abortSignal }),
  );
  return {
    ...(props.etag ? { ETag: props.etag } : {}),
    ...(props.lastModified ? { 'Last-Modified': props.lastModified.toUTCString() } : {}),
  };
}

/** The validators a 304 or 412 carries (RFC 9110 §15.4.5: the ETag a 200 would have had), from Azure's answer. */
function validatorsOf(error: unknown, etag: string): Record<string, string> {
  const headers = (error as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers;
  const lastModified = headers?.get('last-modified');
  return { ETag: headers?.get('etag') ?? etag, ...(lastModified ? { 'Last-Modified': lastModified } : {}) };
}

/**
 * Whether the container can take uploads: `ok`, or what is wrong. `write`
 * also writes and deletes a small blob under the prefix (at start);
 * readiness only asks Azure for one blob name under the prefix.
 */
export async function probeContainer(container: AzureContainer, write: boolean): Promise<string> {
  const abortSignal = () => AbortSignal.timeout(container.settings.requestTimeoutMs);
  try {
    if (!write) {
      // A listing, not Get Container Properties: a container SAS cannot read the container's properties.
      const pages = container.clients.calls
        .listBlobsFlat({ prefix: container.settings.blobPrefix, abortSignal: abortSignal() })
        .byPage({ maxPageSize: 1 });
      await pages.next();
      return 'ok';
    }
    const blob = container.blob(`${container.settings.blobPrefix}.probe-${randomUUID()}`);
    await blob.upload('ok', 2, { abortSignal: abortSignal() });
    await blob.delete({ abortSignal: abortSignal() });
    return 'ok';
  } catch (error) {
    container.logger.warn(
      { azure: { status: azureStatus(error), code: azureCode(error) }, call: 'probe' },
      'Azure container probe failed',
    );
    return `unavailable: ${describeAzureError(error)}`;
  }
}

/**
 * Everything of the upload goes: its recorded state first (so that a failure
 * half way leaves a record without bytes, which is removed again, never bytes
 * that look whole), then its blob (staged blocks included) and tail blobs,
 * found by listing them.
 */
export async function removeUpload({ container, states }: AzureByteStoreDeps, id: string): Promise<boolean> {
  const state = await states.read(id);
  await states.remove(id);
  const name = container.blobName(id);
  let had = state !== undefined;
  for await (const blob of container.blobs(name)) {
    if (blob.name !== name && !TAIL.test(blob.name.slice(name.length))) continue;
    if (await container.remove(blob.name)) had = true;
  }
  return had;
}

/** What follows `<prefix><id>` in the name of one of its tail blobs; nothing else there is this server's. */
const TAIL = /^\.tail-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Every upload with a blob (committed, or only staged blocks) under the
 * prefix, by ID: blobs named exactly `<prefix><id>` or `<prefix><id>.tail-<uuid>`,
 * the only names this server writes; another application's `<uuid>.jpg` in
 * the same container is not an upload, and the sweeper never sees it.
 */
export async function* listUploads(container: AzureContainer): AsyncIterable<{ id: string; modifiedAt: number }> {
  const prefix = container.settings.blobPrefix;
  for await (const blob of container.blobs(prefix)) {
    const id = blob.name.slice(prefix.length, prefix.length + 36);
    const rest = blob.name.slice(prefix.length + 36);
    if (isUploadId(id) && (rest === '' || TAIL.test(rest))) yield { id, modifiedAt: blob.modifiedAt };
  }
}
