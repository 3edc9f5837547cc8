// npm run bench [-- --quick] [-- --no-disk] [-- --no-s3] [-- --no-azure] [-- --reps n] [-- --out file]: ours,
// peer and limit side by side on local disk, in one run (--no-disk skips them and the Redis cost); then on S3
// (ours, @tus/s3-store, the bare SDK; --no-s3 skips it) and on Azure (ours, @tus/azure-store, the bare SDK, on
// Azurite; --no-azure skips it). Each repetition runs every kind once, forward on even repetitions and backward
// on odd ones, so that a drift over the run weighs on all kinds alike; the tables show medians over
// repetitions. Each workload runs on a fresh server process; besides its throughput it measures:
//   - server CPU: utime + stime of the server process (all threads) from /proc/<pid>/stat before and after the
//     workload (servers.ts, cpuMsOf), divided by its units of work: per small upload (POST + PATCH), per 8 MiB
//     PATCH (the POSTs of the large uploads included), per MiB of the one long PATCH;
//   - Redis CPU the same way on the redis-server process (only ours uses it; the others show its idle cost);
//   - peak RSS (VmHWM) of the server process after the workload;
//   - for "large files while read": an open-loop reader at READ_RATE requests/s (tus-load.ts, openLoop) on
//     uploads in flight, GET /api/uploads/<id>/progress for ours, HEAD of the upload URL for the peer (it has
//     no progress endpoint) and the limit (which answers it at once, without state).
// Redis commands and round trips of ours are measured once at the end, through a counting proxy (redis-cost.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../src/redis/local-server.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { AZURE_KINDS, benchAzure } from './azure-bench.js';
import type { ObjectStoreResults } from './object-store-bench.js';
import { measureRedisCost, type RedisCost } from './redis-cost.js';
import { startRedisProxy } from './redis-proxy.js';
import { benchS3, S3_KINDS } from './s3-bench.js';
import { cpuMsOf, type Running, spawnServer } from './servers.js';
import { median, openLoop, percentile, pool, TusLoad } from './tus-load.js';

type Kind = 'ours' | 'ours-nodigest' | 'peer' | 'limit';
/** ours-nodigest: ours with UPLOAD_DIGEST=none, to tell the cost of the Redis tracking from that of the SHA-256. */
const KINDS: Kind[] = ['ours', 'ours-nodigest', 'peer', 'limit'];
const MiB = 1024 * 1024;
/** Progress reads per second during "large files while read": a dashboard polling 200 uploads every second. */
const READ_RATE = 200;
const quick = process.argv.includes('--quick');
const disk = !process.argv.includes('--no-disk');
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

async function start(kind: Kind, redisUrl = redisServer.url): Promise<Running> {
  const dir = path.join(root, `${kind}-${++serial}`);
  const prefix = `bench-${serial}:`;
  const digest = kind === 'ours-nodigest' ? 'none' : 'sha256';
  return kind.startsWith('ours')
    ? spawnServer(
        kind,
        ['dist/main.js'],
        {
          UPLOAD_DIR: dir,
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: prefix,
          UPLOAD_DIGEST: digest,
        },
        prefix,
      )
    : spawnServer(kind, ['--import', 'tsx', `test/bench/${kind}-server.ts`], { UPLOAD_DIR: dir }, prefix);
}

const payload = randomBytes(sizes.patchMiB * MiB);

/** CPU of the server and of Redis used by `work`, in ms. */
async function cpuOf<T>(
  server: Running,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number; redisCpuMs: number }> {
  const cpu = server.cpuMs();
  const redisCpu = cpuMsOf(redisServer.pid);
  const result = await work();
  return { result, cpuMs: server.cpuMs() - cpu, redisCpuMs: cpuMsOf(redisServer.pid) - redisCpu };
}

const patchesPerLarge = () => sizes.largeCount * Math.ceil((sizes.largeMiB * MiB) / payload.length);

/** Workload 1 (and 4 when `reads` is on): large uploads in PATCHes, optionally with dashboard reads alongside. */
async function large(server: Running, reads: boolean) {
  const load = new TusLoad(server.url, sizes.largeParallel);
  const readLoad = new TusLoad(server.url, 128);
  const active: string[] = [];
  const reader = reads
    ? server.kind.startsWith('ours')
      ? openLoop(readLoad, 'GET', READ_RATE, () => {
          const target = active[Math.floor(Math.random() * active.length)];
          return target && `/api/uploads/${target.split('/').pop()}/progress`;
        })
      : openLoop(readLoad, 'HEAD', READ_RATE, () => active[Math.floor(Math.random() * active.length)])
    : undefined;
  const started = performance.now();
  const { cpuMs, redisCpuMs } = await cpuOf(server, () =>
    pool(sizes.largeCount, sizes.largeParallel, async () => {
      const url = await load.create(sizes.largeMiB * MiB);
      active.push(url);
      for (let offset = 0; offset < sizes.largeMiB * MiB; offset += payload.length)
        await load.patch(url, offset, payload);
      active.splice(active.indexOf(url), 1);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const read = await reader?.stop();
  load.close();
  readLoad.close();
  return {
    mbPerSecond: (sizes.largeCount * sizes.largeMiB * MiB) / 1e6 / seconds,
    cpuMsPerPatch: cpuMs / patchesPerLarge(),
    redisCpuMsPerPatch: redisCpuMs / patchesPerLarge(),
    read,
  };
}

/** Workload 2: many small uploads, POST then PATCH. */
async function small(server: Running) {
  const load = new TusLoad(server.url, sizes.smallParallel);
  const body = randomBytes(4096);
  const latencies: number[] = [];
  const started = performance.now();
  const { cpuMs, redisCpuMs } = await cpuOf(server, () =>
    pool(sizes.smallCount, sizes.smallParallel, async () => {
      const t = performance.now();
      const url = await load.create(body.length);
      await load.patch(url, 0, body);
      latencies.push(performance.now() - t);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  load.close();
  return {
    uploadsPerSecond: sizes.smallCount / seconds,
    p50Ms: median(latencies),
    p99Ms: percentile(latencies, 99),
    cpuMsPerUpload: cpuMs / sizes.smallCount,
    redisCpuMsPerUpload: redisCpuMs / sizes.smallCount,
    peakRssMiB: server.peakRssMiB(),
  };
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
      const offset = await redis.hget(keysOfUpload(server.prefix, id).upload, 'offset');
      if (offset && Number(offset) < size) seen.add(offset);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  const { cpuMs } = await cpuOf(server, () =>
    load.patch(
      url,
      0,
      Array.from({ length: size / payload.length }, () => payload),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  polling = false;
  await poller;
  load.close();
  return {
    mbPerSecond: size / 1e6 / seconds,
    cpuMsPerMiB: cpuMs / sizes.longMiB,
    progressUpdatesSeen: server.kind.startsWith('ours') ? seen.size : null,
    peakRssMiB: server.peakRssMiB(),
  };
}

type Row = Record<string, number | null>;
const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
const results: Record<Kind, Row[]> = { ours: [], 'ours-nodigest': [], peer: [], limit: [] };

/** Runs `workload` on a fresh server of `kind`. */
async function fresh<T>(kind: Kind, workload: (server: Running) => Promise<T>): Promise<T> {
  const server = await start(kind);
  try {
    return await workload(server);
  } finally {
    await server.stop();
  }
}

for (let rep = 0; disk && rep < sizes.reps; rep++) {
  // Forward on even repetitions, backward on odd ones (and the two large-file runs swapped with them).
  const order = rep % 2 === 0 ? KINDS : [...KINDS].reverse();
  for (const kind of order) {
    const row: Row = {};
    const plain = async () => {
      const { read: _none, ...result } = await fresh(kind, async (server) => ({
        ...(await large(server, false)),
        peakRssMiB: server.peakRssMiB(),
      }));
      Object.assign(row, prefixed('large', result));
    };
    const underReads = async () => {
      const { read, mbPerSecond, cpuMsPerPatch } = await fresh(kind, (server) => large(server, true));
      row.readsPerSecond = read?.readsPerSecond ?? null;
      row.readP50Ms = read?.p50Ms ?? null;
      row.readP99Ms = read?.p99Ms ?? null;
      row.readErrors = read?.errors ?? null;
      row.readScheduleLagP99Ms = read?.scheduleLagP99Ms ?? null;
      row.largeUnderReadsMbPerSecond = mbPerSecond;
      row.largeUnderReadsCpuMsPerPatch = cpuMsPerPatch;
    };
    if (rep % 2 === 0) {
      await plain();
      await underReads();
    } else {
      await underReads();
      await plain();
    }
    // Per repetition (the two runs of a pair are next to each other in time); the table shows its median.
    row.largeUnderReadsRatio = ratio(row.largeUnderReadsMbPerSecond, row.largeMbPerSecond);
    Object.assign(row, prefixed('small', await fresh(kind, small)));
    Object.assign(row, prefixed('long', await fresh(kind, long)));
    results[kind].push(row);
    console.error(`rep ${rep + 1}/${sizes.reps} ${kind}: ${JSON.stringify(row)}`);
  }
}

function prefixed(name: string, values: Record<string, number | null>): Row {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${name}${k[0]?.toUpperCase()}${k.slice(1)}`, v]));
}

const s3 = process.argv.includes('--no-s3') ? undefined : await benchS3(sizes, sizes.reps, root, redisServer.url);
const azure = process.argv.includes('--no-azure')
  ? undefined
  : await benchAzure(sizes, sizes.reps, root, redisServer.url);

/** Ours once more, reaching Redis through the counting proxy, for its Redis commands and round trips. */
async function oursRedisCost(): Promise<RedisCost> {
  const proxy = await startRedisProxy(redisServer.url);
  const ours = await start('ours', proxy.url);
  const cost = await measureRedisCost(ours.url, redisServer.url, ours.prefix, proxy);
  await ours.stop();
  await proxy.close();
  return cost;
}
const redisCost = disk ? await oursRedisCost() : undefined;

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

const metrics: Array<[string, string, 'higher' | 'lower', number?]> = [
  ['largeMbPerSecond', 'Large files: MB/s', 'higher'],
  ['largeCpuMsPerPatch', `Large files: server CPU ms per ${sizes.patchMiB} MiB PATCH`, 'lower'],
  ['largeRedisCpuMsPerPatch', `Large files: Redis CPU ms per ${sizes.patchMiB} MiB PATCH`, 'lower', 2],
  ['smallUploadsPerSecond', 'Small files: uploads/s', 'higher'],
  ['smallP50Ms', 'Small files: p50 ms per upload', 'lower'],
  ['smallP99Ms', 'Small files: p99 ms per upload', 'lower'],
  ['smallCpuMsPerUpload', 'Small files: server CPU ms per upload (POST + PATCH)', 'lower', 2],
  ['smallRedisCpuMsPerUpload', 'Small files: Redis CPU ms per upload', 'lower', 2],
  ['longMbPerSecond', `One ${sizes.longMiB} MiB PATCH: MB/s`, 'higher'],
  ['longCpuMsPerMiB', `One ${sizes.longMiB} MiB PATCH: server CPU ms per MiB`, 'lower', 2],
  ['readsPerSecond', `Progress reads, open loop at ${READ_RATE}/s during large files: req/s`, 'higher'],
  ['readP50Ms', 'Progress reads: p50 ms', 'lower'],
  ['readP99Ms', 'Progress reads: p99 ms', 'lower'],
  ['readErrors', 'Progress reads: errors (status ≥ 400 or failed)', 'lower', 0],
  ['largeUnderReadsMbPerSecond', 'Large files while read: MB/s', 'higher'],
  ['largeUnderReadsRatio', 'Large files while read ÷ without reads', 'higher', 2],
  ['largePeakRssMiB', `Peak RSS, ${sizes.patchMiB} MiB PATCHes: MiB`, 'lower'],
  ['smallPeakRssMiB', 'Peak RSS, small files: MiB', 'lower'],
  ['longPeakRssMiB', `Peak RSS, one ${sizes.longMiB} MiB PATCH: MiB`, 'lower'],
];
// The local-disk table (none with --no-disk).
const lines: string[] = disk
  ? [
      `| Metric | ours | ours, no digest | peer | limit | ours÷peer | no digest÷peer | ours÷limit |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
      ...metrics.map(([key, label, , digits]) => {
        const [o, n, p, l] = KINDS.map((k) => medians[k][key]);
        return `| ${label} | ${fmt(o, digits)} | ${fmt(n, digits)} | ${fmt(p, digits)} | ${fmt(l, digits)} | ${fmt(ratio(o, p), 2)} | ${fmt(ratio(n, p), 2)} | ${fmt(ratio(o, l), 2)} |`;
      }),
    ]
  : [];
/** The table of one object store (S3, Azure): its ours, peer and limit columns. */
function objectStoreTable<K extends string>(
  store: string,
  kinds: readonly [K, K, K],
  { medians }: ObjectStoreResults<K>,
): string[] {
  const metrics: Array<[string, string, number?]> = [
    ['largeMbPerSecond', `Large files on ${store}: MB/s`],
    ['largeCpuMsPerMiB', `Large files on ${store}: server CPU ms per MiB`, 2],
    ['smallUploadsPerSecond', `Small files on ${store}: uploads/s`],
    ['smallP99Ms', `Small files on ${store}: p99 ms`],
    ['smallCpuMsPerUpload', `Small files on ${store}: server CPU ms per upload (POST + PATCH)`, 2],
    ['peakRssMiB', `Peak RSS on ${store}: MiB`],
  ];
  return [
    '',
    `| Metric | ${store} ours | ${store} peer | ${store} limit | ours÷peer | ours÷limit |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...metrics.map(([key, label, digits]) => {
      const [o, p, l] = kinds.map((k) => medians[k][key]);
      return `| ${label} | ${fmt(o, digits)} | ${fmt(p, digits)} | ${fmt(l, digits)} | ${fmt(ratio(o, p), 2)} | ${fmt(ratio(o, l), 2)} |`;
    }),
    '',
    `${store} limit has no server: its CPU rows are the benchmark process itself driving the bare SDK.`,
  ];
}
if (s3) lines.push(...objectStoreTable('S3', S3_KINDS, s3));
if (azure) lines.push(...objectStoreTable('Azure', AZURE_KINDS, azure));
if (redisCost)
  lines.push(
    '',
    `Peer and limit answer the progress reads with HEAD of the upload URL (the peer takes the upload's lock for it; the limit answers at once); ours with GET /api/uploads/<id>/progress. Target for ours: while read ÷ without reads ≥ 0.9.`,
    '',
    ...redisCostTable(redisCost),
  );

function redisCostTable(cost: RedisCost): string[] {
  const rows: Array<[string, RedisCost['perSmallUpload']]> = [
    ['One small upload (POST + PATCH)', cost.perSmallUpload],
    ['… its POST', cost.perSmallPost],
    ['… its PATCH', cost.perSmallPatch],
    [`One 8 MiB PATCH in the middle of an upload`, cost.perMiddlePatch8MiB],
    ['A whole 64 MiB upload in one PATCH', cost.perWholeUploadIn1Patch64MiB],
  ];
  return [
    '| Redis cost (ours) | commands (incl. scripts) | top-level commands | round trips | of them before the reply |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ([label, c]) =>
        `| ${label} | ${fmt(c.commands)} | ${fmt(c.topLevelCommands)} | ${fmt(c.roundTrips)} | ${fmt(c.roundTripsBeforeReply)} |`,
    ),
    '',
    `Round trips while idle: ${fmt(cost.idleRoundTripsPerSecond)} per second (the server's own timers).`,
    'One small upload, round trip by round trip (connection: commands sent before waiting):',
    ...cost.sampleRoundTrips.post.map((b) => `  POST  ${b}`),
    ...cost.sampleRoundTrips.patch.map((b) => `  PATCH ${b}`),
  ];
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`;
const report = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  sizes,
  readRate: READ_RATE,
  medians: disk ? medians : undefined,
  runs: disk ? results : undefined,
  progressUpdatesSeenDuringLongPatch: disk ? medians.ours.longProgressUpdatesSeen : undefined,
  s3,
  azure,
  redisCost,
};
const out = process.argv.includes('--out')
  ? (process.argv[process.argv.indexOf('--out') + 1] as string)
  : 'test/bench/results.json';
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${machine}; ${quick ? 'quick' : 'full'} mode, medians of ${sizes.reps} run(s)\n`);
console.log(lines.join('\n').trimStart());
if (disk)
  console.log(
    `\nProgress seen advancing in Redis during the long PATCH: ${medians.ours.longProgressUpdatesSeen} times`,
  );
console.log(`JSON: ${out}`);
redis.disconnect();
await redisServer.stop();
rmSync(root, { recursive: true, force: true });
process.exit(0);
