/**
 * An upload's record: the Redis hash `upload:{<id>}`, in the cheat sheet's
 * schema (totalChunks, receivedChunks, failedChunks, status) plus what the tus
 * store needs. Every value is stored as a string; this module is the one
 * translation between the hash and typed values.
 */
export type UploadStatus = 'uploading' | 'assembling' | 'completed' | 'failed';

export type UploadRecord = Readonly<{
  id: string;
  status: UploadStatus;
  /** Bytes in the upload; undefined while the length is deferred. */
  size: number | undefined;
  /** Bytes stored, as last recorded. */
  offset: number;
  chunkSize: number;
  totalChunks: number | undefined;
  receivedChunks: number;
  failedChunks: number;
  metadata: Record<string, string | null> | undefined;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  completedAt: number | undefined;
  sha256: string | undefined;
  error: string | undefined;
  /** `Upload-Concat` as received at creation: `partial`, or `final;<urls>`. */
  uploadConcat: string | undefined;
  /** A final upload's partial uploads, in order. */
  partials: readonly string[] | undefined;
  /** The group linking the parts of one file uploaded in parallel (metadata `group`). */
  group: string | undefined;
  /** Set while a PATCH with Upload-Checksum writes bytes not yet verified, from this offset. */
  unverifiedFrom: number | undefined;
  /** Bytes stored per second, over the last second or more of progress. */
  speedBytesPerSecond: number | undefined;
  /** Who created the upload, as the authorizer named them; every later request must come from them. */
  owner: string | undefined;
  /** `created` when created with webhooks on, then `completed`/`failed` once that webhook is in the outbox. */
  announced: string | undefined;
}>;

export const isFinal = (record: UploadRecord) => record.uploadConcat?.startsWith('final;') === true;
export const isPartial = (record: UploadRecord) => record.uploadConcat === 'partial';

export type NewUpload = Readonly<{
  id: string;
  size: number | undefined;
  chunkSize: number;
  metadata: Record<string, string | null> | undefined;
  createdAt: number;
  expiresAt: number;
  uploadConcat?: string;
  partials?: readonly string[];
  group?: string;
  /** 'uploading' unless given (a final upload starts 'assembling'). */
  status?: UploadStatus;
  owner?: string;
}>;

/** The fields of a new record, as field/value pairs for HSET. Absent values are left out. */
export function initialFields(upload: NewUpload): string[] {
  const fields: Record<string, string | undefined> = {
    totalChunks: upload.size === undefined ? undefined : String(Math.ceil(upload.size / upload.chunkSize)),
    receivedChunks: '0',
    failedChunks: '0',
    status: upload.status ?? 'uploading',
    size: upload.size === undefined ? undefined : String(upload.size),
    offset: '0',
    chunkSize: String(upload.chunkSize),
    metadata: upload.metadata === undefined ? undefined : JSON.stringify(upload.metadata),
    createdAt: String(upload.createdAt),
    updatedAt: String(upload.createdAt),
    expiresAt: String(upload.expiresAt),
    uploadConcat: upload.uploadConcat,
    partials: upload.partials === undefined ? undefined : JSON.stringify(upload.partials),
    group: upload.group,
    owner: upload.owner,
  };
  return Object.entries(fields).flatMap(([field, value]) => (value === undefined ? [] : [field, value]));
}

/** The record `initialFields` describes, as a read would return it. */
export function newRecord(upload: NewUpload): UploadRecord {
  const fields = initialFields(upload);
  const hash: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) hash[fields[i] as string] = fields[i + 1] as string;
  return parseRecord(upload.id, hash) as UploadRecord;
}

const optionalNumber = (value: string | undefined) => (value === undefined ? undefined : Number(value));

/** The typed record of an HGETALL reply; undefined when the hash does not exist. */
export function parseRecord(id: string, hash: Record<string, string>): UploadRecord | undefined {
  if (hash.status === undefined) return undefined;
  return {
    id,
    status: hash.status as UploadStatus,
    size: optionalNumber(hash.size),
    offset: Number(hash.offset),
    chunkSize: Number(hash.chunkSize),
    totalChunks: optionalNumber(hash.totalChunks),
    receivedChunks: Number(hash.receivedChunks),
    failedChunks: Number(hash.failedChunks),
    metadata: hash.metadata === undefined ? undefined : JSON.parse(hash.metadata),
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
    expiresAt: Number(hash.expiresAt),
    completedAt: optionalNumber(hash.completedAt),
    sha256: hash.sha256,
    error: hash.error,
    uploadConcat: hash.uploadConcat,
    partials: hash.partials === undefined ? undefined : JSON.parse(hash.partials),
    group: hash.group,
    unverifiedFrom: optionalNumber(hash.unverifiedFrom),
    speedBytesPerSecond: optionalNumber(hash.speedBytesPerSecond),
    owner: hash.owner,
    announced: hash.announced,
  };
}
