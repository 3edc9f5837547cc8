import { Metadata, Upload } from '@tus/utils';
import type { UploadRecord, UploadStatus } from '../model/upload-record.js';

export function toUpload(record: UploadRecord, stored: number, status: UploadStatus): Upload {
  const upload = new Upload({
    id: record.id,
    size: record.size,
    offset: stored,
    metadata: record.metadata,
    creation_date: new Date(record.createdAt).toISOString(),
  });
  // tus: "The Upload-Expires response header indicates the time after which the
  // unfinished upload expires." A completed upload is not unfinished: without a
  // creation date, @tus/server does not answer 410 for it once that time passes.
  if (status === 'completed') upload.creation_date = undefined;
  return upload;
}

/** tus Upload-Metadata, parsed; undefined when absent or malformed (a malformed one is refused by the tus rules). */
export function metadataOfHeader(
  header: string | string[] | null | undefined,
): Record<string, string | null> | undefined {
  try {
    return typeof header === 'string' && header !== '' ? Metadata.parse(header) : undefined;
  } catch {
    return undefined;
  }
}
