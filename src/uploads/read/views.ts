/**
 * What the dashboard endpoints answer, computed from records: pure, no I/O.
 * Numbers are numbers, `receivedChunks` is a count, unknowns are null.
 */
import { missingChunks, percent, toRanges } from '../model/chunk-grid.js';
import { isFinal, type UploadRecord, type UploadStatus } from '../model/upload-record.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function progressView(record: UploadRecord) {
  return {
    id: record.id,
    status: record.status,
    size: record.size ?? null,
    offset: record.offset,
    percent: percent(record.offset, record.size),
    chunkSize: record.chunkSize,
    totalChunks: record.totalChunks ?? null,
    receivedChunks: record.receivedChunks,
    failedChunks: record.failedChunks,
    metadata: record.metadata ?? {},
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    expiresAt: iso(record.expiresAt),
    completedAt: iso(record.completedAt),
    sha256: record.sha256,
    error: record.error,
    concat: record.uploadConcat === undefined ? undefined : isFinal(record) ? 'final' : 'partial',
    group: record.group,
  };
}

/** The chunks still to send, as indexes and as inclusive [first, last] ranges; null while the size is unknown. */
export function missingView(record: UploadRecord, received: Iterable<number>) {
  const missing = record.totalChunks === undefined ? null : missingChunks(record.totalChunks, received);
  return {
    id: record.id,
    status: record.status,
    offset: record.offset,
    chunkSize: record.chunkSize,
    totalChunks: record.totalChunks ?? null,
    receivedChunks: record.receivedChunks,
    missingChunks: missing,
    missingRanges: missing && toRanges(missing),
  };
}

export type Part = Readonly<{ id: string; record?: UploadRecord }>;

/**
 * The chunks an upload still misses, as inclusive ranges, from its count
 * alone (no read of its chunk set): chunks are received in order
 * (record-progress-2.lua adds them from receivedChunks up, rewind-progress-2.lua
 * takes them off the top), so the received ones are always 0..receivedChunks-1.
 * Null while the size is unknown.
 */
function missingRangesOf(record: UploadRecord): Array<[number, number]> | null {
  if (record.totalChunks === undefined) return null;
  return record.receivedChunks < record.totalChunks ? [[record.receivedChunks, record.totalChunks - 1]] : [];
}

/**
 * One part of a parallel upload: its progress and the ranges of chunks it
 * still misses (not every index: a group's read stays small however big its
 * parts are), or `removed` once it is gone.
 */
export function partView(part: Part) {
  if (!part.record) return { id: part.id, status: 'removed' as const };
  const { status, offset, chunkSize, totalChunks, receivedChunks, size, percent, failedChunks } = progressView(
    part.record,
  );
  return {
    id: part.id,
    status,
    offset,
    chunkSize,
    totalChunks,
    receivedChunks,
    missingRanges: missingRangesOf(part.record),
    size,
    percent,
    failedChunks,
  };
}

/**
 * One file uploaded in parallel, as one thing: the sums over its parts while
 * they upload, then its final upload's own numbers once that exists.
 */
export function groupView(group: string, parts: readonly Part[], final: UploadRecord | undefined) {
  const records = parts.flatMap((p) => (p.record ? [p.record] : []));
  const sum = (pick: (r: UploadRecord) => number | undefined) =>
    records.some((r) => pick(r) === undefined)
      ? undefined
      : records.reduce((total, r) => total + (pick(r) as number), 0);
  const fromFinal = final?.status === 'completed' || records.length === 0;
  const size = fromFinal ? final?.size : sum((r) => r.size);
  const offset = fromFinal ? (final?.offset ?? 0) : (sum((r) => r.offset) ?? 0);
  let status: UploadStatus = records.some((r) => r.status === 'failed') ? 'failed' : 'uploading';
  if (final) status = final.status;
  return {
    group,
    status,
    size: size ?? null,
    offset,
    percent: percent(offset, size),
    totalChunks: (fromFinal ? final?.totalChunks : sum((r) => r.totalChunks)) ?? null,
    receivedChunks: fromFinal ? (final?.receivedChunks ?? 0) : (sum((r) => r.receivedChunks) ?? 0),
    failedChunks: records.reduce((total, r) => total + r.failedChunks, final?.failedChunks ?? 0),
    parts: parts.map(partView),
    final: final ? progressView(final) : null,
  };
}

/** An upload that has stored nothing for this long is not moving: its speed is 0, its ETA unknown. */
const STALLED_AFTER_MS = 5000;

/** A row of the uploads list (and of live updates): what a person watching uploads wants to see. */
export function rowView(record: UploadRecord, now = Date.now()) {
  const moving = record.status === 'uploading' && now - record.updatedAt < STALLED_AFTER_MS;
  const speed = moving ? (record.speedBytesPerSecond ?? 0) : 0;
  const left = record.size === undefined ? undefined : record.size - record.offset;
  return {
    id: record.id,
    filename: record.metadata?.filename ?? null,
    filetype: record.metadata?.filetype ?? null,
    status: record.status,
    size: record.size ?? null,
    offset: record.offset,
    percent: percent(record.offset, record.size),
    totalChunks: record.totalChunks ?? null,
    receivedChunks: record.receivedChunks,
    failedChunks: record.failedChunks,
    speedBytesPerSecond: speed,
    etaSeconds: speed > 0 && left !== undefined ? Math.ceil(left / speed) : null,
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    completedAt: iso(record.completedAt),
    group: record.group ?? null,
  };
}

export type RowView = ReturnType<typeof rowView>;
