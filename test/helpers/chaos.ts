import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Upload } from 'tus-js-client';
import { expect } from 'vitest';
import { keysFor } from '../../src/redis/keys.js';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { holderOf } from '../../src/uploads/coordination/instance-liveness.js';
import { type Balancer, startBalancer } from './balancer.js';
import { killAllServerProcesses, type ServerProcess, startServerProcess } from './server-process.js';

const MiB = 1024 * 1024;

export type ChaosOptions = {
  /** The settings of one instance (each call may give it a directory of its own); REDIS_URL and the key prefix are added. */
  env: () => Record<string, string>;
  /** The Redis all instances share, which the run pauses: one of the test's own, never the suite's. */
  redis: RedisServerProcess;
  uploads: number;
  seed: number;
};

type ChaosUpload = {
  name: string;
  data: Buffer;
  chunkSize: number;
  deferred: boolean;
  url?: string;
  retries: number;
  /** For each failure the client retried: ms from it to the next 2xx the client got. */
  recoveries: number[];
  error?: string;
};

export type ChaosReport = {
  uploads: ChaosUpload[];
  faults: { kills: number; instancePauses: number; redisPauses: number };
  balancer: Balancer;
  prefix: string;
  ms: number;
  /** Each server's output, for a failure message. */
  outputs: string[];
};

/**
 * A Redis of the chaos run's own (the run pauses it; never the suite's), and
 * a client of it, for beforeAll/afterAll; `stop` also ends every server process.
 */
export async function chaosRedis(tmpRoot: string) {
  const server = await startRedisServer({ dir: mkdtempSync(path.join(tmpRoot, 'chaos-redis-')), appendOnly: false });
  const client = new Redis(server.url);
  return {
    server,
    client,
    async stop() {
      await killAllServerProcesses();
      client.disconnect();
      await server.stop();
    },
  };
}

/** mulberry32: the same sizes, chunk sizes and faults for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The servers' default LOCK_TTL_MS: how long a lock outlives an instance that cannot release it. */
const LOCK_TTL_MS = 15_000;

/** Each client's link: the largest upload takes about half a minute without faults. */
const CLIENT_BYTES_PER_SECOND = 0.75 * MiB;

/** tus-js-client's retries: enough to outlast any fault here (each lasts at most 3 s). */
const RETRY_DELAYS = [0, 250, 500, 1000, ...Array.from({ length: 40 }, () => 1000)];

function upload(balancer: string, u: ChaosUpload): Promise<void> {
  let failedAt: number | undefined;
  return new Promise((resolve, reject) => {
    const client = new Upload(u.data, {
      endpoint: `${balancer}/files`,
      chunkSize: u.chunkSize,
      uploadLengthDeferred: u.deferred,
      retryDelays: RETRY_DELAYS,
      metadata: { filename: u.name },
      // A creation retried after its reply was lost must not make a second upload.
      headers: { 'Idempotency-Key': `"${randomUUID()}"` },
      onShouldRetry: (error, attempt, options) => {
        u.retries++;
        failedAt ??= Date.now();
        const status = error.originalResponse?.getStatus() ?? 0;
        const retry = !(status >= 400 && status < 500 && status !== 409 && status !== 423);
        if (!retry) u.error = `${error.message} (attempt ${attempt}, ${options.uploadUrl ?? 'no URL'})`;
        return retry;
      },
      onAfterResponse: (_req, res) => {
        const status = res.getStatus();
        if (failedAt !== undefined && status >= 200 && status < 300) {
          u.recoveries.push(Date.now() - failedAt);
          failedAt = undefined;
        }
      },
      onSuccess: () => {
        u.url = client.url ?? undefined;
        resolve();
      },
      onError: (error) => {
        u.url = client.url ?? undefined;
        u.error ??= error.message;
        reject(error);
      },
    });
    client.start();
  });
}

/**
 * Three instances sharing one Redis and one byte store behind a balancer;
 * `uploads` tus-js-client uploads of 0.2 to 24 MiB in chunks of 1 to 5 MiB,
 * one in four with deferred length, all at once; and, until the last one
 * ends, a fault every 0.5 to 1.5 s: an instance killed (-9) and restarted, an
 * instance paused (SIGSTOP) for 0.5 to 3 s, or Redis paused for 0.3 to 2.5 s.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const rand = random(options.seed);
  const between = (low: number, high: number) => low + Math.floor(rand() * (high - low));
  const prefix = `chaos-${randomUUID().slice(0, 8)}:`;
  const env = () => ({ ...options.env(), REDIS_URL: options.redis.url, REDIS_KEY_PREFIX: prefix });
  // Each picks a free port itself (and picks again if another process takes it first: chaos runs of other
  // files start at the same moment); a restarted instance comes back on its port, which the balancer knows.
  const instances: ServerProcess[] = await Promise.all([0, 1, 2].map(() => startServerProcess(env())));
  const ports = instances.map((instance) => Number(new URL(instance.url).port));
  const outputs: string[] = [];
  const balancer = await startBalancer(() => ports, CLIENT_BYTES_PER_SECOND);
  const uploads: ChaosUpload[] = Array.from({ length: options.uploads }, (_, i) => ({
    name: `chaos-${i}`,
    data: randomBytes(between(MiB / 5, 24 * MiB)),
    chunkSize: between(MiB, 5 * MiB),
    deferred: i % 4 === 0,
    retries: 0,
    recoveries: [],
  }));
  const faults = { kills: 0, instancePauses: 0, redisPauses: 0 };
  const started = Date.now();
  let running = true;
  const all = Promise.allSettled(uploads.map((u) => upload(balancer.url, u))).finally(() => {
    running = false;
  });

  const chaos = (async () => {
    while (running) {
      await sleep(between(500, 1500));
      if (!running) break;
      const kind = rand();
      const slot = between(0, 3);
      if (kind < 0.4) {
        faults.kills++;
        const killed = instances[slot] as ServerProcess;
        await killed.kill('SIGKILL');
        outputs.push(killed.output());
        await sleep(between(200, 1000));
        // Restarts happen while the other instances, Redis pauses and other files' runs load the machine.
        instances[slot] = await startServerProcess({ ...env(), PORT: String(ports[slot]) }, { readyTimeoutMs: 90_000 });
      } else if (kind < 0.7) {
        faults.instancePauses++;
        const paused = instances[slot] as ServerProcess;
        paused.child.kill('SIGSTOP');
        await sleep(between(500, 3000));
        paused.child.kill('SIGCONT');
      } else {
        faults.redisPauses++;
        options.redis.process.kill('SIGSTOP');
        await sleep(between(300, 2500));
        options.redis.process.kill('SIGCONT');
      }
    }
  })();
  await all;
  await chaos;
  outputs.push(...instances.map((i) => i.output()));
  return { uploads, faults, balancer, prefix, ms: Date.now() - started, outputs };
}

type UploadCheck = { name: string; problems: string[] };

/**
 * What is wrong with one finished upload, read back through the balancer and
 * from Redis: its bytes, and its record (status, offset, size, chunk counts
 * equal to the set, SHA-256).
 */
async function checkUpload(u: ChaosUpload, report: ChaosReport, redis: Redis): Promise<UploadCheck> {
  const problems: string[] = [];
  if (u.error || !u.url) return { name: u.name, problems: [`did not complete: ${u.error ?? 'no URL'}`] };
  const digest = createHash('sha256').update(u.data).digest('hex');
  const id = u.url.split('/').pop() as string;
  const res = await fetch(`${report.balancer.url}/files/${id}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) problems.push(`GET answered ${res.status}`);
  else if (!body.equals(u.data))
    problems.push(`downloaded ${body.length} bytes that differ from the ${u.data.length} sent`);
  const keys = keysFor({ keyPrefix: report.prefix }).forUpload(id);
  const record = await redis.hgetall(keys.upload);
  const inSet = await redis.scard(keys.chunksReceived);
  const expected: Record<string, string> = {
    status: 'completed',
    offset: String(u.data.length),
    size: String(u.data.length),
    receivedChunks: String(inSet),
    totalChunks: String(inSet),
    sha256: digest,
  };
  for (const [field, value] of Object.entries(expected)) {
    if (record[field] !== value) problems.push(`${field} is ${record[field]}, not ${value}`);
  }
  return { name: u.name, problems };
}

/** Every key under the run's prefix matching `pattern` (SCAN). */
async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** The run in one line, for the test's output and the docs. */
function summary(report: ChaosReport): string {
  const { kills, instancePauses, redisPauses } = report.faults;
  const retries = report.uploads.reduce((n, u) => n + u.retries, 0);
  const resumed = report.uploads.filter((u) => u.retries > 0).length;
  const bytes = report.uploads.reduce((n, u) => n + u.data.length, 0);
  const answers = [...report.balancer.answers].sort().map(([k, v]) => `${k}: ${v}`);
  const recoveries = report.uploads.flatMap((u) => u.recoveries).sort((a, b) => a - b);
  const at = (q: number) => recoveries[Math.min(recoveries.length - 1, Math.floor(q * recoveries.length))] ?? 0;
  return [
    `${report.uploads.length} uploads, ${(bytes / MiB).toFixed(0)} MiB, ${(report.ms / 1000).toFixed(1)} s`,
    `faults: ${kills} kills, ${instancePauses} instance pauses, ${redisPauses} Redis pauses`,
    `client retries: ${retries} (${resumed} uploads resumed at least once)`,
    `from a failure to the next 2xx: median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms (${recoveries.length} failures)`,
    `answers: ${answers.join(', ')}`,
  ].join('\n');
}

/** What must hold after a chaos run, whatever the byte store. */
export async function expectNothingLost(report: ChaosReport, redis: Redis): Promise<void> {
  const text = summary(report);
  console.log(text);
  const checks = await Promise.all(report.uploads.map((u) => checkUpload(u, report, redis)));
  expect(
    checks.filter((c) => c.problems.length > 0),
    text,
  ).toEqual([]);
  // One creation each: the uploads in Redis are exactly the clients' uploads.
  const keys = keysFor({ keyPrefix: report.prefix });
  const created = (await keysMatching(redis, keys.uploadPattern)).filter((k) => keys.uploadIdOf(k) !== undefined);
  const ids = report.uploads.map((u) => (u.url as string).split('/').pop() as string);
  expect(created.sort()).toEqual(ids.map((id) => keys.forUpload(id).upload).sort());
  // No lock left that anyone could wait for: a running instance has released all of its own. An instance killed
  // (-9) while holding one cannot release it; that lock names an instance whose liveness key is gone, so the next
  // request takes it over at once, and it expires by itself.
  const left = await Promise.all(
    (await keysMatching(redis, keys.lock('*'))).map(async (key) => {
      const holder = holderOf((await redis.get(key)) ?? '');
      const holderAlive = holder ? (await redis.exists(keys.instance(holder.instance))) === 1 : false;
      return { key, holderAlive, ttlMs: await redis.pttl(key) };
    }),
  );
  console.log(`locks left by killed instances: ${left.length}`);
  expect(left.filter((l) => l.holderAlive || l.ttlMs < 0 || l.ttlMs > LOCK_TTL_MS)).toEqual([]);
  // A fault may cost a retry, never a server error.
  expect(
    [...report.balancer.answers.keys()].filter((k) => / 5\d\d$/.test(k) && !/ 50[23]$/.test(k)),
    text,
  ).toEqual([]);
}
