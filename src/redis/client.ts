import { Redis } from 'ioredis';
import { defineScripts } from './scripts.js';

export type RedisClientOptions = {
  commandTimeoutMs: number;
  /** Name shown by CLIENT LIST, to tell this server's connections apart. */
  connectionName?: string;
};

/**
 * A client whose failure modes are chosen, not inherited. ioredis's defaults
 * wait forever on a hung server (no command timeout) and retry a dead one for
 * ~10 s per command; here a request learns within about `commandTimeoutMs`
 * that Redis is unavailable. Unanswered commands are resent after a reconnect
 * (`autoResendUnfulfilledCommands`), which is safe only because every write
 * this server makes is idempotent (see the scripts' headers).
 */
export function createRedisClient(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    connectionName: options.connectionName ?? 'tus-redis-server',
    connectTimeout: options.commandTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    autoResendUnfulfilledCommands: true,
    // Commands issued in the same tick (by concurrent requests) share one write.
    enableAutoPipelining: true,
    lazyConnect: true,
  });
  defineScripts(redis);
  return redis;
}

const UNAVAILABLE_REPLIES = /^(OOM|LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

/** True when an error means Redis cannot answer right now (the request may be retried later). */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(error.message);
  return /Command timed out|Connection is closed|Stream isn't writeable|connect ECONNREFUSED|connect ETIMEDOUT|ECONNRESET/.test(
    error.message,
  );
}

/** Runs a MULTI or pipeline and returns its replies, throwing the first command error. */
export async function execAll(batch: { exec(): Promise<[Error | null, unknown][] | null> }): Promise<unknown[]> {
  const results = await batch.exec();
  if (!results) throw new Error('Redis transaction was aborted');
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
