import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import { defineScripts, VARIABLE_KEY_SCRIPTS } from './scripts.js';

/** A client of one Redis or of a Redis Cluster: the server speaks to either the same way. */
export type RedisClient = Redis | Cluster;

const CLUSTER_URL = /^rediss?\+cluster:\/\//;

/** Whether a REDIS_URL names a Redis Cluster. */
export const isClusterUrl = (url: string | undefined): boolean => url !== undefined && CLUSTER_URL.test(url);

/**
 * The seed nodes of a `redis+cluster://[user:password@]host:port,host:port[,...]`
 * URL (`rediss+cluster://` for TLS), or undefined for a plain redis:// URL.
 */
function clusterNodes(url: string): { nodes: ClusterNode[]; options: RedisOptions } | undefined {
  if (!CLUSTER_URL.test(url)) return undefined;
  const tls = url.startsWith('rediss');
  const rest = url.replace(CLUSTER_URL, '');
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '');
  const [username, password] = credentials.includes(':')
    ? credentials.split(':', 2)
    : [undefined, credentials || undefined];
  const nodes = hosts.split(',').map((hostPort) => {
    const [host, port] = hostPort.split(':');
    return { host: host || '127.0.0.1', port: Number(port || 6379) };
  });
  return {
    nodes,
    options: {
      ...(username ? { username: decodeURIComponent(username) } : {}),
      ...(password ? { password: decodeURIComponent(password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
  };
}

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
export function createRedisClient(url: string, options: RedisClientOptions): RedisClient {
  const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1000);
  const connection: RedisOptions = {
    connectionName: options.connectionName ?? 'tus-redis-server',
    connectTimeout: options.commandTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy,
    autoResendUnfulfilledCommands: true,
    // ioredis 6 speaks RESP3 by default; RESP2 keeps every reply (scripts', pub/sub's) exactly as the server
    // has always been tested with, and keeps Redis before 6 usable.
    protocol: 2,
  };
  const cluster = clusterNodes(url);
  const redis: RedisClient = cluster
    ? new Cluster(cluster.nodes, {
        redisOptions: { ...connection, ...cluster.options },
        clusterRetryStrategy: retryStrategy,
        // One pipeline per node: commands of one tick share a write to each node they go to.
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: VARIABLE_KEY_SCRIPTS,
        // ioredis follows a MOVED by itself only for a lone command, or a batch whose errors are all the same:
        // a batch of keys in several slots of a master that failed over (a lock's SET with this instance's
        // liveness key, a creation with its indexes) gets its MOVEDs back, and the slot map stays stale.
        // Those requests answer 503 (see isRedisUnavailable), and the map is read again within a second.
        slotsRefreshInterval: 1000,
        lazyConnect: true,
      })
    : // Commands issued in the same tick (by concurrent requests) share one write.
      new Redis(url, {
        ...connection,
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: VARIABLE_KEY_SCRIPTS,
        lazyConnect: true,
      });
  defineScripts(redis);
  return redis;
}

// MOVED and ASK reach this server only for a batch ioredis could not redirect (see slotsRefreshInterval above):
// a slot is moving or its master failed over, which a retry a moment later gets past.
const UNAVAILABLE_REPLIES = /^(OOM|LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

/** True when an error means Redis cannot answer right now (the request may be retried later). */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(error.message);
  return /Command timed out|Connection is closed|Stream isn't writeable|connect ECONNREFUSED|connect ETIMEDOUT|ECONNRESET/.test(
    error.message,
  );
}

/** A Redis URL as it may be shown: its password replaced. */
const shownUrl = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/**
 * Why a connection to Redis at `url` failed, in one line an operator can act
 * on: nothing answers there, what answers is not Redis, it refused the
 * credentials, or the error as it came.
 */
export function describeConnectionFailure(url: string, error: unknown): string {
  const where = shownUrl(url);
  // ioredis's Cluster does not keep a seed node's socket error: all it says is that the connection closed.
  if (
    CLUSTER_URL.test(url) &&
    /Failed to refresh slots cache|None of startup nodes|Connection is closed/.test(String(error))
  ) {
    return `none of the cluster nodes in ${where} answers as a Redis Cluster node: start them, or correct REDIS_URL`;
  }
  const e = error as NodeJS.ErrnoException & { name?: string };
  if (e?.name === 'ParserError' || /Protocol error|Unknown RESP type/.test(e?.message ?? '')) {
    return `what answers at ${where} is not Redis (it does not speak the Redis protocol): point REDIS_URL at a Redis server`;
  }
  if (e?.code === 'ECONNREFUSED')
    return `nothing answers at ${where} (connection refused): start Redis there, or set REDIS_URL to one that runs`;
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `the host of ${where} is not found (${e.code})`;
  if (/WRONGPASS|NOAUTH|invalid password|AUTH/.test(e?.message ?? '')) {
    return `Redis at ${where} refused the credentials: ${e.message}`;
  }
  if (/timed out|ETIMEDOUT/i.test(e?.message ?? e?.code ?? '')) return `Redis at ${where} did not answer in time`;
  return `cannot use Redis at ${where}: ${e?.message ?? String(error)}`;
}

/**
 * Another connection with the same settings (for a subscriber). ioredis 6 types
 * `duplicate` apart on Redis and Cluster, so a union cannot call it directly.
 */
export function duplicateOf(redis: RedisClient, clusterOptions: { shardedSubscribers?: boolean } = {}): RedisClient {
  return redis instanceof Cluster ? redis.duplicate(undefined, clusterOptions) : redis.duplicate();
}
