import { appError } from '../../errors/app-error.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { isFinal, parseRecord, type UploadRecord, type UploadStatus } from '../model/upload-record.js';
import { groupView, missingView, type Part, partView, progressView, type RowView, rowView } from './views.js';

export type UploadPage = { uploads: RowView[]; next: string | null };

type Entry = { id: string; score: number };

/** The order of the uploads list: latest activity first, then (as ZREVRANGEBYSCORE gives ties) the higher ID. */
const newestFirst = (a: Entry, b: Entry): number => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** The entries of a reply WITHSCORES (member, score, member, score, …). */
function entriesOf(flat: string[]): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i] as string, score: Number(flat[i + 1]) });
  return entries;
}

const encodeCursor = (entry: { id: string; score: number }) =>
  Buffer.from(`${entry.score}:${entry.id}`).toString('base64url');

function decodeCursor(cursor: string): { score: number; id: string } {
  const [score, id] = Buffer.from(cursor, 'base64url').toString().split(':');
  if (!score || !id || !Number.isFinite(Number(score))) {
    throw appError('INVALID_CURSOR');
  }
  return { score: Number(score), id };
}

/** The read model: reads upload state from Redis and never writes it. */
export class UploadReader {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async readRecord(id: string): Promise<UploadRecord | undefined> {
    return parseRecord(id, await this.readHash(id));
  }

  /** The raw hash of an upload (an empty object when it does not exist). */
  readHash(id: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.forUpload(id).upload);
  }

  /** One upload's progress; a final upload's also lists its parts. */
  async readProgress(id: string) {
    const record = await this.readRecord(id);
    if (!record) return undefined;
    const view = progressView(record);
    return record.partials ? { ...view, parts: (await this.readParts(record.partials)).map(partView) } : view;
  }

  async readMissing(id: string) {
    const k = this.keys.forUpload(id);
    const [hash, members] = await Promise.all([this.redis.hgetall(k.upload), this.redis.smembers(k.chunksReceived)]);
    const record = parseRecord(id, hash);
    return record && missingView(record, members.map(Number));
  }

  /** The IDs of a group's uploads (the group of that owner, when uploads have owners). */
  groupMembers(group: string, owner: string | undefined): Promise<string[]> {
    return this.redis.smembers(this.keys.group(group, owner));
  }

  /** The parts of one file uploaded in parallel (metadata `group`), and its final upload once there is one. */
  async readGroup(group: string, owner: string | undefined) {
    const ids = await this.groupMembers(group, owner);
    const members = await this.readParts(ids);
    const finals = members.flatMap((m) => (m.record && isFinal(m.record) ? [m.record] : []));
    const final = finals.sort((a, b) => b.createdAt - a.createdAt)[0];
    let parts = members.filter((m) => m.record && !isFinal(m.record));
    if (final?.partials) {
      // The final upload knows its parts' order (and those removed after assembly).
      const byId = new Map(parts.map((p) => [p.id, p]));
      parts = final.partials.map((id) => byId.get(id) ?? { id });
    } else {
      parts.sort((a, b) => (a.record?.createdAt ?? 0) - (b.record?.createdAt ?? 0) || a.id.localeCompare(b.id));
    }
    return ids.length === 0 ? undefined : groupView(group, parts, final);
  }

  /**
   * A page of uploads, newest activity first, optionally in one status, read
   * from the activity indexes (never a scan of the keyspace): one range read
   * per bucket, merged, and one read per row. `cursor` continues after the
   * previous page: the entries after it are those of a lower score, or of the
   * same score and a lower ID, in every bucket alike.
   */
  async listUploads(options: { status?: UploadStatus; limit: number; cursor?: string }): Promise<UploadPage> {
    const { status, limit } = options;
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    const perBucket = await Promise.all(
      this.keys.indexes.map((index) => this.newestIn(status ? index.status(status) : index.recent, limit + 1, after)),
    );
    const entries = perBucket.length === 1 ? (perBucket[0] ?? []) : perBucket.flat().sort(newestFirst);
    const page = entries.slice(0, limit);
    const records = await Promise.all(page.map((e) => this.readRecord(e.id)));
    const now = Date.now();
    // The index is written next to the records, not with them: an entry whose record is gone or has moved on is skipped.
    const uploads = records.flatMap((r) => (r && (!status || r.status === status) ? [rowView(r, now)] : []));
    const last = page.at(-1);
    return { uploads, next: entries.length > limit && last ? encodeCursor(last) : null };
  }

  /** Up to `count` entries of one index after the cursor, newest first. */
  private async newestIn(key: string, count: number, after?: { score: number; id: string }): Promise<Entry[]> {
    const entries: Entry[] = [];
    if (after) {
      // The rest of the uploads that share the cursor's time, however many: members of equal score come in
      // reverse lexicographic order, so those below the cursor's ID are the ones not shown yet.
      const ties = await this.redis.zrevrangebyscore(key, after.score, after.score);
      for (const id of ties) if (id < after.id && entries.length < count) entries.push({ id, score: after.score });
    }
    if (entries.length < count) {
      const flat = await this.redis.zrevrangebyscore(
        key,
        after ? `(${after.score}` : '+inf',
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        count - entries.length,
      );
      entries.push(...entriesOf(flat));
    }
    return entries;
  }

  /** Up to `limit` upload IDs whose removal time has come, oldest first, from every bucket's expiry index. */
  async dueForRemoval(now: number, limit: number): Promise<string[]> {
    const perBucket = await Promise.all(
      this.keys.indexes.map(async (index) =>
        entriesOf(await this.redis.zrangebyscore(index.expiry, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)),
      ),
    );
    return perBucket
      .flat()
      .sort((a, b) => a.score - b.score)
      .slice(0, limit)
      .map((e) => e.id);
  }

  /**
   * The records of several uploads (at most a group's worth). Commands issued
   * together share round trips (auto-pipelining, one batch per cluster node);
   * an explicit pipeline would fail on a cluster, where the uploads' keys live
   * on different nodes.
   */
  private async readParts(ids: readonly string[]): Promise<Part[]> {
    return Promise.all(ids.map(async (id) => ({ id, record: await this.readRecord(id) })));
  }
}
