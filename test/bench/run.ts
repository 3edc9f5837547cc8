// npm run bench [-- --quick]: ours, peer and limit side by side, in one run (and on S3: ours, @tus/s3-store, the bare SDK).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../src/redis/local-server.js';
import { measureRedisCost } from './redis-cost.js';
import { benchS3, S3_KINDS } from './s3-bench.js';
import { type Running, spawnServer } from './servers.js';
import { median, percentile, pool, TusLoad } from './tus-load.js';

type Kind = 'ours' | 'ours-nodigest' | 'peer' | 'limit';
/** ours-nodigest: ours with UPLOAD_DIGEST=none, to tell the cost of the Redis tracking from that of the SHA-256. */
const KINDS: Kind[] = ['ours', 'ours-nodigest', 'peer', 'limit'];
const MiB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const repsArg = process.argv.indexOf('--reps');
const sizes = quick
  ? {
      largeCount: 8,
      largeMiB: 16,
      patchMiB: 8,
      largeParallel: 4,
      smallCount: 300,
      smallParallel: 32,
      longMiB: 64,
      reps: 1,
    }
  : {
      largeCount: 16,
      largeMiB: 64,
      patchMiB: 8,
      largeParallel: 4,
      smallCount: 2000,
      smallParallel: 32,
      longMiB: 512,
      reps: 3,
    };
if (repsArg > 0) sizes.reps = Number(process.argv[repsArg + 1]);

const root = mkdtempSync(path.join(tmpdir(), 'tus-bench-'));
const redisServer = await startRedisServer({ dir: path.join(root, 'redis'), appendOnly: true });
const redis = new Redis(redisServer.url);
redis.on('error', () => {});
let serial = 0;

async function start(kind: Kind): Promise<Running> {
  const dir = path.join(root, `${kind}-${++serial}`);
  const prefix = `bench-${serial}:`;
  const digest = kind === 'ours-nodigest' ? 'none' : 'sha256';
  return kind.startsWith('ours')
    ? spawnServer(
        kind,
        ['dist/main.js'],
        {
          UPLOAD_DIR: dir,
          REDIS_URL: redisServer.url,
          REDIS_KEY_PREFIX: prefix,
          UPLOAD_DIGEST: digest,
        },
        prefix,
      )
    : spawnServer(kind, ['--import', 'tsx', `test/bench/${kind}-server.ts`], { UPLOAD_DIR: dir }, prefix);
}

const payload = randomBytes(sizes.patchMiB * MiB);

/** Workload 1 (+4 when `reads` is on): large uploads in PATCHes, optionally with dashboard reads running alongside. */
async function large(server: Running, reads: boolean) {
  const load = new TusLoad(server.url, sizes.largeParallel + 4);
  const active: string[] = [];
  const readLatencies: number[] = [];
  let reading = reads;
  const readers = reads
    ? Array.from({ length: 4 }, async () => {
        while (reading) {
          const target = active[Math.floor(Math.random() * active.length)];
          if (!target) {
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          const res = server.kind.startsWith('ours')
            ? await load.send('GET', `/api/uploads/${target.split('/').pop()}/progress`, {})
            : await load.send('HEAD', target, {});
          readLatencies.push(res.ms);
        }
      })
    : [];
  const started = performance.now();
  await pool(sizes.largeCount, sizes.largeParallel, async () => {
    const url = await load.create(sizes.largeMiB * MiB);
    active.push(url);
    for (let offset = 0; offset < sizes.largeMiB * MiB; offset += payload.length)
      await load.patch(url, offset, payload);
    active.splice(active.indexOf(url), 1);
  });
  const seconds = (performance.now() - started) / 1000;
  reading = false;
  await Promise.all(readers);
  load.close();
  return {
    mbPerSecond: (sizes.largeCount * sizes.largeMiB * MiB) / 1e6 / seconds,
    readsPerSecond: readLatencies.length / seconds,
    readP99Ms: percentile(readLatencies, 99),
  };
}

/** Workload 2: many small uploads, POST then PATCH. */
async function small(server: Running) {
  const load = new TusLoad(server.url, sizes.smallParallel);
  const body = randomBytes(4096);
  const latencies: number[] = [];
  const started = performance.now();
  await pool(sizes.smallCount, sizes.smallParallel, async () => {
    const t = performance.now();
    const url = await load.create(body.length);
    await load.patch(url, 0, body);
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - started) / 1000;
  load.close();
  return { uploadsPerSecond: sizes.smallCount / seconds, p50Ms: median(latencies), p99Ms: percentile(latencies, 99) };
}

/** Workload 3: one long PATCH; for ours, how often Redis showed it advancing before it ended. */
async function long(server: Running) {
  const load = new TusLoad(server.url, 2);
  const size = sizes.longMiB * MiB;
  const url = await load.create(size);
  const id = url.split('/').pop() as string;
  const seen = new Set<string>();
  let polling = server.kind.startsWith('ours');
  const poller = (async () => {
    while (polling) {
      const offset = await redis.hget(`${server.prefix}upload:{${id}}`, 'offset');
      if (offset && Number(offset) < size) seen.add(offset);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  await load.patch(
    url,
    0,
    Array.from({ length: size / payload.length }, () => payload),
  );
  const seconds = (performance.now() - started) / 1000;
  polling = false;
  await poller;
  load.close();
  return { mbPerSecond: size / 1e6 / seconds, progressUpdatesSeen: server.kind.startsWith('ours') ? seen.size : null };
}

type Row = Record<string, number | null>;
const results: Record<Kind, Row[]> = { ours: [], 'ours-nodigest': [], peer: [], limit: [] };

for (let rep = 0; rep < sizes.reps; rep++) {
  for (const kind of KINDS) {
    const row: Row = {};
    let server = await start(kind);
    Object.assign(row, prefixed('large', await large(server, false)));
    row.largePeakRssMiB = server.peakRssMiB();
    await server.stop();
    server = await start(kind);
    const withReads = await large(server, kind !== 'limit');
    row.readsPerSecond = kind === 'limit' ? null : withReads.readsPerSecond;
    row.readP99Ms = kind === 'limit' ? null : withReads.readP99Ms;
    row.largeUnderReadsMbPerSecond = withReads.mbPerSecond;
    await server.stop();
    server = await start(kind);
    Object.assign(row, prefixed('small', await small(server)));
    await server.stop();
    server = await start(kind);
    Object.assign(row, prefixed('long', await long(server)));
    row.longPeakRssMiB = server.peakRssMiB();
    await server.stop();
    results[kind].push(row);
    console.error(`rep ${rep + 1}/${sizes.reps} ${kind}: ${JSON.stringify(row)}`);
  }
}

function prefixed(name: string, values: Record<string, number | null>): Row {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${name}${k[0]?.toUpperCase()}${k.slice(1)}`, v]));
}

const s3 = process.argv.includes('--no-s3') ? undefined : await benchS3(sizes, sizes.reps, root, redisServer.url);

const ours = await start('ours');
const redisCost = await measureRedisCost(ours.url, redisServer.url, ours.prefix);
await ours.stop();

const medians = Object.fromEntries(
  KINDS.map((kind) => {
    const keys = Object.keys(results[kind][0] ?? {});
    return [kind, Object.fromEntries(keys.map((k) => [k, medianOrNull(results[kind].map((r) => r[k] ?? null))]))];
  }),
) as Record<Kind, Row>;

function medianOrNull(values: Array<number | null>): number | null {
  const numbers = values.filter((v): v is number => v !== null);
  return numbers.length === 0 ? null : median(numbers);
}

const metrics: Array<[string, string, 'higher' | 'lower']> = [
  ['largeMbPerSecond', 'Large files: MB/s', 'higher'],
  ['smallUploadsPerSecond', 'Small files: uploads/s', 'higher'],
  ['smallP50Ms', 'Small files: p50 ms per upload', 'lower'],
  ['smallP99Ms', 'Small files: p99 ms per upload', 'lower'],
  ['longMbPerSecond', `One ${sizes.longMiB} MiB PATCH: MB/s`, 'higher'],
  ['readsPerSecond', 'Progress reads under load: req/s', 'higher'],
  ['readP99Ms', 'Progress reads under load: p99 ms', 'lower'],
  ['largeUnderReadsMbPerSecond', 'Large files while read: MB/s', 'higher'],
  ['largePeakRssMiB', `Peak RSS, ${sizes.patchMiB} MiB PATCHes: MiB`, 'lower'],
  ['longPeakRssMiB', `Peak RSS, one ${sizes.longMiB} MiB PATCH: MiB`, 'lower'],
];
const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
const lines = [
  `| Metric | ours | ours, no digest | peer | limit | ours÷peer | no digest÷peer | ours÷limit |`,
  `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ...metrics.map(([key, label]) => {
    const [o, n, p, l] = KINDS.map((k) => medians[k][key]);
    return `| ${label} | ${fmt(o)} | ${fmt(n)} | ${fmt(p)} | ${fmt(l)} | ${fmt(ratio(o, p), 2)} | ${fmt(ratio(n, p), 2)} | ${fmt(ratio(o, l), 2)} |`;
  }),
];
const s3Metrics: Array<[string, string]> = [
  ['largeMbPerSecond', 'Large files on S3: MB/s'],
  ['smallUploadsPerSecond', 'Small files on S3: uploads/s'],
  ['smallP99Ms', 'Small files on S3: p99 ms'],
  ['peakRssMiB', 'Peak RSS on S3: MiB'],
];
if (s3) {
  lines.push(
    '',
    '| Metric | S3 ours | S3 peer | S3 limit | ours÷peer | ours÷limit |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...s3Metrics.map(([key, label]) => {
      const [o, p, l] = S3_KINDS.map((k) => s3.medians[k][key]);
      return `| ${label} | ${fmt(o)} | ${fmt(p)} | ${fmt(l)} | ${fmt(ratio(o, p), 2)} | ${fmt(ratio(o, l), 2)} |`;
    }),
  );
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`;
const report = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  sizes,
  medians,
  runs: results,
  progressUpdatesSeenDuringLongPatch: medians.ours.longProgressUpdatesSeen,
  s3,
  redisCost,
};
const out = process.argv.includes('--out')
  ? (process.argv[process.argv.indexOf('--out') + 1] as string)
  : 'test/bench/results.json';
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${machine}; ${quick ? 'quick' : 'full'} mode, medians of ${sizes.reps} run(s)\n`);
console.log(lines.join('\n'));
console.log(`\nRedis cost (ours): ${JSON.stringify(redisCost, null, 2)}`);
console.log(`\nProgress seen advancing in Redis during the long PATCH: ${medians.ours.longProgressUpdatesSeen} times`);
console.log(`JSON: ${out}`);
redis.disconnect();
await redisServer.stop();
rmSync(root, { recursive: true, force: true });
process.exit(0);
