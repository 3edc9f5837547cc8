// What the object-store columns of the benchmark (S3, Azure) share: each store
// has three kinds (ours on it, the peer on the same service, the service's own
// limit through its bare SDK), run alternated, the same two workloads each.
import { randomBytes } from 'node:crypto';
import { spawnServer } from './servers.js';
import { median, percentile, pool, TusLoad } from './tus-load.js';

type Row = Record<string, number | null>;
export type Sizes = Readonly<{
  largeCount: number;
  largeMiB: number;
  largeParallel: number;
  smallCount: number;
  smallParallel: number;
}>;

export const MiB = 1024 * 1024;
/** The large files' PATCH size, and the part (block) size every kind is given: the S3 peer's README advises it. */
export const PART = 8 * MiB;
/** The small files' size. */
const SMALL = 4096;

/** The two uploads of a workload: one large file (`payload`, PART bytes, as many times as it takes), one small. */
type Uploads = Readonly<{
  large(i: number, payload: Buffer): Promise<void>;
  small(i: number, body: Buffer): Promise<void>;
}>;

/** One object store as benchmarked: its kinds, and what each one runs. */
export type ObjectStore<K extends string> = Readonly<{
  /** Ours, the peer, the limit: in this order in every table. */
  kinds: readonly [ours: K, peer: K, limit: K];
  /** Run `id` of ours or the peer: the server's arguments to `node` and its environment. */
  server(kind: K, id: number): Promise<{ args: string[]; env: Record<string, string> }>;
  /** Run `id` of the limit: the same bytes moved by this process with the bare SDK. */
  bare(id: number): Promise<Uploads>;
  /** After run `id` is measured: drops what it stored, if the service should not keep it. */
  cleanUp?(id: number): Promise<void>;
  /** If set, the limit runs once with these sizes before the first repetition, unmeasured (as run 0). */
  warmUp?: Sizes;
}>;

export type ObjectStoreResults<K extends string> = { medians: Record<K, Row>; runs: Record<K, Row[]> };

/** Runs the workloads `reps` times, the kinds alternated so that drift cancels; medians per kind. */
export async function benchObjectStore<K extends string>(
  store: ObjectStore<K>,
  sizes: Sizes,
  reps: number,
): Promise<ObjectStoreResults<K>> {
  const { kinds } = store;
  const runs = Object.fromEntries(kinds.map((kind) => [kind, [] as Row[]])) as Record<K, Row[]>;
  if (store.warmUp) {
    // A service whose first requests are slower than the rest (Azurite's JIT) must not slow whichever kind is first.
    await timed(store.warmUp, await store.bare(0), () => 0);
    await store.cleanUp?.(0);
  }
  let serial = 0;
  for (let rep = 0; rep < reps; rep++) {
    // Forward on even repetitions, backward on odd ones: a drift over the run weighs on every kind alike.
    for (const kind of rep % 2 === 0 ? kinds : [...kinds].reverse()) {
      const id = ++serial;
      const row =
        kind === kinds[2]
          ? await bareSdk(await store.bare(id), sizes)
          : await throughServer(kind, await store.server(kind, id), sizes);
      await store.cleanUp?.(id);
      runs[kind].push(row);
      console.error(`rep ${rep + 1}/${reps} ${kind}: ${JSON.stringify(row)}`);
    }
  }
  const medians = Object.fromEntries(
    kinds.map((kind) => {
      const keys = Object.keys(runs[kind][0] ?? {});
      const medianOf = (k: string) => {
        const values = runs[kind].flatMap((r) => (typeof r[k] === 'number' ? [r[k] as number] : []));
        return values.length === 0 ? null : median(values);
      };
      return [kind, Object.fromEntries(keys.map((k) => [k, medianOf(k)]))];
    }),
  ) as Record<K, Row>;
  return { medians, runs };
}

async function throughServer(
  kind: string,
  command: { args: string[]; env: Record<string, string> },
  sizes: Sizes,
): Promise<Row> {
  const server = await spawnServer(kind, command.args, command.env);
  const large = new TusLoad(server.url, sizes.largeParallel);
  const small = new TusLoad(server.url, sizes.smallParallel);
  try {
    const uploads: Uploads = {
      large: async (_i, payload) => {
        const url = await large.create(sizes.largeMiB * MiB);
        for (let offset = 0; offset < sizes.largeMiB * MiB; offset += payload.length)
          await large.patch(url, offset, payload);
      },
      small: async (_i, body) => {
        const url = await small.create(body.length);
        await small.patch(url, 0, body);
      },
    };
    return rowOf(sizes, await timed(sizes, uploads, () => server.cpuMs()), server.peakRssMiB());
  } finally {
    large.close();
    small.close();
    await server.stop();
  }
}

/**
 * The service's own limit: the same bytes straight from memory with its SDK. There is no server process here:
 * its CPU rows are the benchmark process's own CPU while it does this (process.cpuUsage, all threads), i.e.
 * what the SDK alone spends to move the bytes, no HTTP server in front.
 */
async function bareSdk(uploads: Uploads, sizes: Sizes): Promise<Row> {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return rowOf(sizes, await timed(sizes, uploads, cpuMs), null);
}

type Timings = Readonly<{
  largeSeconds: number;
  largeCpuMs: number;
  smallSeconds: number;
  smallCpuMs: number;
  latencies: number[];
}>;

/** The two workloads, one after the other: their times, the CPU `cpuMs` counts for each, small-upload latencies. */
async function timed(sizes: Sizes, uploads: Uploads, cpuMs: () => number): Promise<Timings> {
  const payload = randomBytes(PART);
  let cpu = cpuMs();
  let started = performance.now();
  await pool(sizes.largeCount, sizes.largeParallel, (i) => uploads.large(i, payload));
  const largeSeconds = (performance.now() - started) / 1000;
  const largeCpuMs = cpuMs() - cpu;
  const body = randomBytes(SMALL);
  const latencies: number[] = [];
  cpu = cpuMs();
  started = performance.now();
  await pool(sizes.smallCount, sizes.smallParallel, async (i) => {
    const t = performance.now();
    await uploads.small(i, body);
    latencies.push(performance.now() - t);
  });
  const smallSeconds = (performance.now() - started) / 1000;
  return { largeSeconds, largeCpuMs, smallSeconds, smallCpuMs: cpuMs() - cpu, latencies };
}

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
