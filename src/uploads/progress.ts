import type { Redis } from 'ioredis';
import { execAll } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { missingChunks, percent, toRanges } from './chunk-grid.js';
import { parseRecord, type UploadRecord } from './record.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** What the dashboard shows of one upload: numbers as numbers, `receivedChunks` a count. */
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

/** The read model: reads upload state from Redis and never writes it. */
export class UploadReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async readRecord(id: string): Promise<UploadRecord | undefined> {
    return parseRecord(id, await this.redis.hgetall(this.keys.forUpload(id).upload));
  }

  async readProgress(id: string) {
    const record = await this.readRecord(id);
    return record && progressView(record);
  }

  async readMissing(id: string) {
    const k = this.keys.forUpload(id);
    const [hash, members] = await execAll(this.redis.multi().hgetall(k.upload).smembers(k.chunksReceived));
    const record = parseRecord(id, hash as Record<string, string>);
    return record && missingView(record, (members as string[]).map(Number));
  }

  /** Up to `limit` upload IDs whose removal time has come, oldest first. */
  async dueForRemoval(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.expiryIndex, '-inf', now, 'LIMIT', 0, limit);
  }
}
