import type { Logger } from '../../log.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { UploadEventConsumer } from './upload-events.js';

/**
 * One info line when an upload completes: "upload completed", with its ID,
 * size, the seconds from its creation and its SHA-256 (null when the server
 * records no digest). Costs one read of the record per completed upload, and
 * none when the level is above info; the request that completed the upload
 * does not wait for it.
 */
export function logCompletions(reader: UploadReader, logger: Logger): UploadEventConsumer {
  return (event) => {
    if (event.type !== 'completed' || !logger.isLevelEnabled('info')) return;
    reader.readRecord(event.id).then(
      (record) => {
        if (!record) return;
        const seconds = ((record.completedAt ?? Date.now()) - record.createdAt) / 1000;
        logger.info(
          { uploadId: record.id, size: record.size, seconds, sha256: record.sha256 ?? null },
          'upload completed',
        );
      },
      (error) => logger.warn({ err: error, uploadId: event.id }, 'could not read a completed upload to log it'),
    );
  };
}
