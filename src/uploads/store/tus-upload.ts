import { Metadata, Upload } from '@tus/utils';
import { chooseChunkSize, type GridLimits } from '../model/chunk-grid.js';
import type { UploadRecord, UploadStatus } from '../model/upload-record.js';

/** The chunk size a creation request asks for; the server's when it asks for none or for an invalid one (refused later, with its reason). */
export function requestedChunkSize(metadataHeader: string | null, serverDefault: number, limits: GridLimits): number {
  try {
    const requested = metadataHeader ? Metadata.parse(metadataHeader).chunkSize : undefined;
    return chooseChunkSize(requested, serverDefault, limits);
  } catch {
    return serverDefault;
  }
}

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
