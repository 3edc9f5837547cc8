import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export type RedisServerProcess = Readonly<{
  url: string;
  port: number;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}>;

export type RedisServerOptions = Readonly<{
  /** Working directory (AOF, RDB). */
  dir: string;
  /** Append-only file with fsync every second: a crash loses at most a second of writes. */
  appendOnly?: boolean;
  extraArgs?: readonly string[];
  /** A fixed port (e.g. to restart a server where it was); a free one by default. */
  port?: number;
}>;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Answers PING within `timeoutMs`? */
async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Starts a `redis-server` child on a free loopback port (Redis cannot listen on
 * port 0, so a port is picked and re-checked) and waits until it is this
 * child, not some other server, that answers there.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServerProcess> {
  mkdirSync(options.dir, { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port ? 1 : 5); attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(port, options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function launch(port: number, options: RedisServerOptions): Promise<RedisServerProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    options.dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => {
    output = (output + d).slice(-4000);
  });
  child.stderr?.on('data', (d) => {
    output = (output + d).slice(-4000);
  });
  // A child that could not be spawned emits 'error' and may never emit 'exit'.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new Error(`cannot run redis-server: ${e.message}`))),
  );
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const ready = (async () => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
      if (await isChildAt(url, child.pid)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${port}: ${output.trim()}`);
  })();
  try {
    await Promise.race([ready, spawnFailed]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, pid: child.pid as number, process: child, stop };
}

async function isChildAt(url: string, pid: number | undefined): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping(); // refused while an append-only file is still loading
    const info = await client.info('server');
    return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(info);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Where `npm start` looks for Redis when REDIS_URL is unset. */
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The Redis to use: REDIS_URL; else one answering on 127.0.0.1:6379; else a
 * redis-server child started here (append-only file under the upload
 * directory), which the caller stops on exit.
 */
export async function findRedis(
  config: { redisUrl: string | undefined; uploadDir: string },
  logger: Logger,
  probeUrl = LOCAL_REDIS_URL,
): Promise<{ url: string; local?: RedisServerProcess }> {
  if (config.redisUrl) return { url: config.redisUrl };
  if (await redisAnswers(probeUrl)) {
    logger.info({ redis: probeUrl }, `REDIS_URL is not set; using the Redis answering at ${probeUrl}`);
    return { url: probeUrl };
  }
  const dir = path.join(config.uploadDir, '.redis');
  // Another server sharing this upload directory may have started one already.
  const portFile = path.join(dir, 'port');
  const previous = await readFile(portFile, 'utf8').catch(() => '');
  if (/^\d+$/.test(previous.trim())) {
    const url = `redis://127.0.0.1:${previous.trim()}`;
    if (await redisAnswers(url)) {
      logger.info({ redis: url }, 'REDIS_URL is not set; using the redis-server started for this upload directory');
      return { url };
    }
  }
  try {
    const local = await startRedisServer({ dir, appendOnly: true });
    await writeFile(portFile, String(local.port));
    logger.info(
      { redis: local.url, pid: local.pid, dir },
      `REDIS_URL is not set and nothing answers at ${probeUrl}: started a local redis-server (append-only file on); it stops with this server`,
    );
    return { url: local.url, local };
  } catch (error) {
    throw new Error(
      `No Redis to keep upload state in: nothing answers at ${probeUrl} and redis-server could not be started (${(error as Error).message}). Set REDIS_URL=redis://host:port, or run \`docker compose up\`.`,
    );
  }
}
