import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

/**
 * Each script's contract (keys, arguments, replies) is in the header of its
 * .lua file, whose name ends with its number of keys (`-n`: a variable number,
 * passed first by the caller).
 */
const SCRIPTS = {
  createUpload: 'create-upload-8.lua',
  recordProgress: 'record-progress-9.lua',
  rewindProgress: 'rewind-progress-8.lua',
  declareLength: 'declare-length-1.lua',
  finishAssembly: 'finish-assembly-9.lua',
  createByteState: 'create-byte-state-2.lua',
  recordPart: 'record-part-2.lua',
  recordTail: 'record-tail-2.lua',
  sealByteState: 'seal-byte-state-2.lua',
  truncateByteState: 'truncate-byte-state-2.lua',
  recordFailure: 'record-failure-1.lua',
  renewLock: 'renew-lock-1.lua',
  releaseLock: 'release-lock-1.lua',
  takeOverLock: 'take-over-lock-1.lua',
  setFieldsIfExists: 'set-fields-if-exists-1.lua',
  enqueueWebhooks: 'enqueue-webhooks-n.lua',
  claimWebhooks: 'claim-webhooks-n.lua',
  finishWebhook: 'finish-webhook-3.lua',
  retryWebhook: 'retry-webhook-4.lua',
  claimOwnerSlot: 'claim-owner-slot-1.lua',
  joinGroup: 'join-group-1.lua',
} as const;

/** The scripts that move an upload: each writes its bucket's indexes too, with the functions of prelude.lua. */
const PRELUDED: ReadonlySet<keyof typeof SCRIPTS> = new Set([
  'createUpload',
  'recordProgress',
  'rewindProgress',
  'finishAssembly',
]);

/**
 * Scripts with a variable number of keys. ioredis cannot auto-pipeline them
 * correctly on a cluster: not knowing their keys, it groups them by their
 * first argument (the key count), so they would join another node's batch and
 * fail it ("All keys in the pipeline should belong to the same slots").
 */
export const VARIABLE_KEY_SCRIPTS = Object.entries(SCRIPTS)
  .filter(([, file]) => file.endsWith('-n.lua'))
  .map(([name]) => name);

type Arg = string | number;
type ProgressReply =
  | [offset: number, receivedChunks: number, status: string, previousStatus: string, moved: 0 | 1]
  | -1
  | -2;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    // The keys (the bucket's indexes last), then the arguments, as each script's header lists them.
    createUpload(...keysThenArgs: Arg[]): Result<0 | 1, Context>;
    recordProgress(...keysThenArgs: Arg[]): Result<ProgressReply, Context>;
    rewindProgress(...keysThenArgs: Arg[]): Result<number, Context>;
    declareLength(upload: string, size: Arg, now: Arg): Result<number, Context>;
    finishAssembly(...keysThenArgs: Arg[]): Result<-1 | 0 | 1, Context>;
    recordFailure(upload: string, requestId: string, now: Arg): Result<number, Context>;
    renewLock(lock: string, token: string, ttlMs: Arg): Result<0 | 1, Context>;
    releaseLock(lock: string, token: string): Result<0 | 1, Context>;
    takeOverLock(lock: string, seen: string, value: string, ttlMs: Arg): Result<0 | 1, Context>;
    setFieldsIfExists(upload: string, ...fields: Arg[]): Result<1 | -1, Context>;
    enqueueWebhooks(numberOfKeys: number, ...keysThenArgs: Arg[]): Result<string[], Context>;
    claimWebhooks(
      numberOfKeys: number,
      ...keysThenArgs: Arg[]
    ): Result<[id: string, attempts: number, fields: string[], queue: string][], Context>;
    finishWebhook(queue: string, stream: string, attempts: string, id: string): Result<1, Context>;
    retryWebhook(
      queue: string,
      stream: string,
      attempts: string,
      dead: string,
      id: string,
      now: Arg,
      maxAttempts: Arg,
      firstDelayMs: Arg,
      longestDelayMs: Arg,
      jitter: Arg,
      error: string,
      deadKept: Arg,
    ): Result<number, Context>;
    createByteState(upload: string, bytes: string, ...fieldsAndValues: Arg[]): Result<1 | 0 | -1, Context>;
    recordPart(
      upload: string,
      bytes: string,
      part: Arg,
      etag: string,
      length: Arg,
    ): Result<[number, string] | -1 | -2, Context>;
    recordTail(
      upload: string,
      bytes: string,
      part: Arg,
      key: string,
      length: Arg,
    ): Result<[number, string] | -1 | -2, Context>;
    sealByteState(upload: string, bytes: string, size: Arg, etag: string): Result<1 | -1, Context>;
    truncateByteState(
      upload: string,
      bytes: string,
      length: Arg,
      partSize: Arg,
    ): Result<[number, string] | -1, Context>;
    joinGroup(group: string, id: string, most: Arg, ttlMs: Arg): Result<0 | 1, Context>;
    claimOwnerSlot(active: string, id: string, now: Arg, until: Arg, limit: Arg, ttlMs: Arg): Result<0 | 1, Context>;
  }
}

/** Registers every script on a client (EVALSHA, with a fallback to EVAL when the server lacks it). */
export function defineScripts(redis: Pick<Redis | Cluster, 'defineCommand'>): void {
  const read = (file: string) => readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');
  const prelude = read('prelude.lua');
  for (const [name, file] of Object.entries(SCRIPTS)) {
    const keys = /-(\d+|n)\.lua$/.exec(file)?.[1];
    const lua = PRELUDED.has(name as keyof typeof SCRIPTS) ? `${prelude}\n${read(file)}` : read(file);
    redis.defineCommand(name, keys === 'n' ? { lua } : { numberOfKeys: Number(keys), lua });
  }
}
