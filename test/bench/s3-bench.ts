// The S3 columns of the benchmark: ours on S3, the peer (@tus/server +
// @tus/s3-store) on the same Swift, and Swift's own limit (the bare SDK).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { freshBucket, s3Client } from '../helpers/s3.js';
import { startSwift } from '../helpers/swift.js';
import { spawnServer } from './servers.js';
import { median, percentile, pool, TusLoad } from './tus-load.js';

export type S3Kind = 's3-ours' | 's3-peer' | 's3-limit';
export const S3_KINDS: S3Kind[] = ['s3-ours', 's3-peer', 's3-limit'];
type Row = Record<string, number | null>;
type Sizes = { largeCount: number; largeMiB: number; largeParallel: number; smallCount: number; smallParallel: number };

const MiB = 1024 * 1024;
/** The peer's part size as its README advises; ours is given the same chunk (= part) size. */
const PART = 8 * MiB;

/** Runs the S3 workloads `reps` times, the kinds alternated so that drift cancels; medians per kind. */
export async function benchS3(sizes: Sizes, reps: number, root: string, redisUrl: string) {
  const swift = await startSwift({ dir: path.join(root, 'swift') });
  try {
    const client = s3Client(swift);
    const bucket = await freshBucket(client);
    const env = {
      S3_BUCKET: bucket,
      S3_ENDPOINT: swift.endpoint,
      S3_REGION: swift.region,
      AWS_ACCESS_KEY_ID: swift.accessKeyId,
      AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const runs: Record<S3Kind, Row[]> = { 's3-ours': [], 's3-peer': [], 's3-limit': [] };
    let serial = 0;
    for (let rep = 0; rep < reps; rep++) {
      // Forward on even repetitions, backward on odd ones: a drift over the run weighs on every kind alike.
      for (const kind of rep % 2 === 0 ? S3_KINDS : [...S3_KINDS].reverse()) {
        const id = ++serial;
        const row =
          kind === 's3-limit'
            ? await bareSdk(client, bucket, sizes, `limit-${id}/`)
            : await throughServer(kind, sizes, { ...env, ...serverEnv(kind, id, root, redisUrl) });
        runs[kind].push(row);
        console.error(`rep ${rep + 1}/${reps} ${kind}: ${JSON.stringify(row)}`);
      }
    }
    const medians = Object.fromEntries(
      S3_KINDS.map((kind) => {
        const keys = Object.keys(runs[kind][0] ?? {});
        const medianOf = (k: string) => {
          const values = runs[kind].flatMap((r) => (typeof r[k] === 'number' ? [r[k] as number] : []));
          return values.length === 0 ? null : median(values);
        };
        return [kind, Object.fromEntries(keys.map((k) => [k, medianOf(k)]))];
      }),
    ) as Record<S3Kind, Row>;
    return { medians, runs };
  } finally {
    await swift.stop();
  }
}

function serverEnv(kind: S3Kind, id: number, root: string, redisUrl: string): Record<string, string> {
  const dir = path.join(root, `${kind}-${id}`);
  if (kind === 's3-peer') return { UPLOAD_DIR: dir };
  return {
    UPLOAD_DIR: dir,
    STORAGE: 's3',
    S3_FORCE_PATH_STYLE: 'true',
    S3_KEY_PREFIX: `ours-${id}/`,
    CHUNK_SIZE_BYTES: String(PART),
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `bench-s3-${id}:`,
  };
}

async function throughServer(kind: S3Kind, sizes: Sizes, env: Record<string, string>): Promise<Row> {
  const args = kind === 's3-ours' ? ['dist/main.js'] : ['--import', 'tsx', 'test/bench/s3-peer-server.ts'];
  const server = await spawnServer(kind, args, env);
  try {
    const payload = randomBytes(PART);
    const large = new TusLoad(server.url, sizes.largeParallel);
    let cpu = server.cpuMs();
    let started = performance.now();
    await pool(sizes.largeCount, sizes.largeParallel, async () => {
      const url = await large.create(sizes.largeMiB * MiB);
      for (let offset = 0; offset < sizes.largeMiB * MiB; offset += PART) await large.patch(url, offset, payload);
    });
    const largeSeconds = (performance.now() - started) / 1000;
    const largeCpuMs = server.cpuMs() - cpu;
    large.close();
    const small = new TusLoad(server.url, sizes.smallParallel);
    const body = randomBytes(4096);
    const latencies: number[] = [];
    cpu = server.cpuMs();
    started = performance.now();
    await pool(sizes.smallCount, sizes.smallParallel, async () => {
      const t = performance.now();
      const url = await small.create(body.length);
      await small.patch(url, 0, body);
      latencies.push(performance.now() - t);
    });
    const smallSeconds = (performance.now() - started) / 1000;
    const smallCpuMs = server.cpuMs() - cpu;
    small.close();
    return rowOf(sizes, { largeSeconds, largeCpuMs, smallSeconds, smallCpuMs, latencies }, server.peakRssMiB());
  } finally {
    await server.stop();
  }
}

/**
 * Swift's own limit: the same bytes straight from memory with the SDK (multipart 8 MiB parts; PutObject for
 * small). There is no server process here: its CPU rows are the benchmark process's own CPU while it does this
 * (process.cpuUsage, all threads), i.e. what the SDK alone spends to move the bytes, no HTTP server in front.
 */
async function bareSdk(client: S3Client, Bucket: string, sizes: Sizes, prefix: string): Promise<Row> {
  const payload = randomBytes(PART);
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  let cpu = cpuMs();
  let started = performance.now();
  await pool(sizes.largeCount, sizes.largeParallel, async (i) => {
    const Key = `${prefix}large-${i}`;
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const Parts = [];
    for (let n = 1; n <= (sizes.largeMiB * MiB) / PART; n++) {
      const part = await client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: payload, ContentLength: PART }),
      );
      Parts.push({ ETag: part.ETag, PartNumber: n });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
  });
  const largeSeconds = (performance.now() - started) / 1000;
  const largeCpuMs = cpuMs() - cpu;
  const body = randomBytes(4096);
  const latencies: number[] = [];
  cpu = cpuMs();
  started = performance.now();
  await pool(sizes.smallCount, sizes.smallParallel, async (i) => {
    const t = performance.now();
    await client.send(new PutObjectCommand({ Bucket, Key: `${prefix}small-${i}`, Body: body, ContentLength: 4096 }));
    latencies.push(performance.now() - t);
  });
  const smallSeconds = (performance.now() - started) / 1000;
  const smallCpuMs = cpuMs() - cpu;
  return rowOf(sizes, { largeSeconds, largeCpuMs, smallSeconds, smallCpuMs, latencies }, null);
}

type Timings = Readonly<{
  largeSeconds: number;
  largeCpuMs: number;
  smallSeconds: number;
  smallCpuMs: number;
  latencies: number[];
}>;

/** One kind's row, from the two workloads' times, CPU and latencies. */
function rowOf(sizes: Sizes, t: Timings, peakRssMiB: number | null): Row {
  return {
    largeMbPerSecond: (sizes.largeCount * sizes.largeMiB * MiB) / 1e6 / t.largeSeconds,
    largeCpuMsPerMiB: t.largeCpuMs / (sizes.largeCount * sizes.largeMiB),
    smallUploadsPerSecond: sizes.smallCount / t.smallSeconds,
    smallP99Ms: percentile(t.latencies, 99),
    smallCpuMsPerUpload: t.smallCpuMs / sizes.smallCount,
    peakRssMiB,
  };
}
