// npm run bench:cluster [-- --uploads n] [-- --out file]: what small uploads cost a Redis Cluster, with 3 and then
// 6 masters (no replicas, so that every bus message counted is one the layout causes), for ours built in dist/:
//   - cluster-bus publish messages per upload: the deltas of CLUSTER INFO cluster_stats_messages_publish_sent
//     (classic PUBLISH, broadcast to every node) and ..._publishshard_sent (SPUBLISH, within one shard), summed
//     over the nodes;
//   - Redis commands per upload, scripts' inner calls included (INFO commandstats deltas, summed over the masters,
//     less the INFO calls of this measurement), and each master's share: the busiest master's ÷ the mean.
// A small upload is a POST and one PATCH of 4 KiB that completes it, the benchmark's small workload; they run 16
// at a time after a warm-up. The numbers are counts, not times: the machine's load does not move them.
// --webhooks: with a webhook receiver (answering 200) for upload.created and upload.completed, so the outbox's
// work is counted too. --build <commit>: measure that commit of this repository (its src/, run with tsx) instead
// of dist/, for a before-and-after in one run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { olderBuild } from '../helpers/old-build.js';
import { startRedisCluster } from '../helpers/redis-cluster.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { spawnServer } from './servers.js';
import { pool, TusLoad } from './tus-load.js';

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const UPLOADS = Number(arg('--uploads') ?? 500);
const WEBHOOKS = process.argv.includes('--webhooks');
const BUILD = arg('--build');
const WARM_UP = 20;
const SMALL = randomBytes(4096);

type NodeCounters = { publish: number; publishShard: number; calls: number };

/** One node's bus publish counters and its total command calls. */
async function countersOf(url: string): Promise<NodeCounters> {
  const client = new Redis(url);
  try {
    const info = String(await client.cluster('INFO'));
    const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    const stats = await client.info('commandstats');
    let calls = 0;
    for (const match of stats.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(match[1]);
    return {
      publish: stat('cluster_stats_messages_publish_sent'),
      publishShard: stat('cluster_stats_messages_publishshard_sent'),
      calls,
    };
  } finally {
    client.disconnect();
  }
}

async function measure(masters: number) {
  const dir = mkdtempSync(path.join(tmpdir(), `bench-cluster-${masters}-`));
  const cluster = await startRedisCluster(dir, masters, 0);
  const hook = WEBHOOKS ? await startReceiver() : undefined;
  const main = BUILD
    ? ['--import', 'tsx', path.join(await olderBuild(BUILD, path.join(dir, 'src-tree')), 'src/main.ts')]
    : ['dist/main.js'];
  const server = await spawnServer('ours', main, {
    UPLOAD_DIR: path.join(dir, 'uploads'),
    REDIS_URL: cluster.url,
    REDIS_KEY_PREFIX: 'bench:',
    ...(hook ? { WEBHOOK_URLS: hook.url, WEBHOOK_EVENTS: 'upload.created,upload.completed' } : {}),
  });
  const load = new TusLoad(server.url, 16);
  const one = async () => {
    const url = await load.create(SMALL.length);
    await load.patch(url, 0, SMALL);
  };
  try {
    // With webhooks: every upload's two deliveries made before counting starts or stops.
    const delivered = async (uploads: number) => {
      await hook?.waitFor(() => (hook?.deliveries.length ?? 0) >= 2 * uploads, 60_000);
    };
    await pool(WARM_UP, 16, one);
    await delivered(WARM_UP);
    // Let the warm-up's background work (index writes, events) settle before counting.
    await new Promise((r) => setTimeout(r, 500));
    const urls = cluster.nodes.map((n) => n.url);
    const before = await Promise.all(urls.map(countersOf));
    await pool(UPLOADS, 16, one);
    await delivered(WARM_UP + UPLOADS);
    await new Promise((r) => setTimeout(r, 500));
    const after = await Promise.all(urls.map(countersOf));
    // Each countersOf call is two commands (CLUSTER INFO, INFO): those of the "after" read land in neither sum,
    // those of the "before" read in the delta.
    const calls = after.map((a, i) => a.calls - (before[i] as NodeCounters).calls - 2);
    const sum = (f: (c: NodeCounters) => number) =>
      after.reduce((total, a, i) => total + f(a) - f(before[i] as NodeCounters), 0);
    const mean = calls.reduce((a, b) => a + b, 0) / calls.length;
    return {
      masters,
      uploads: UPLOADS,
      webhooks: WEBHOOKS,
      build: BUILD ?? 'dist',
      busPublishPerUpload: sum((c) => c.publish) / UPLOADS,
      busPublishShardPerUpload: sum((c) => c.publishShard) / UPLOADS,
      commandsPerUpload: calls.reduce((a, b) => a + b, 0) / UPLOADS,
      commandsPerMaster: calls,
      busiestMasterShare: Math.max(...calls) / mean,
    };
  } finally {
    load.close();
    await hook?.close();
    await server.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const masters of [3, 6]) {
  const result = await measure(masters);
  console.error(JSON.stringify(result));
  results.push(result);
}
const table = [
  '| Masters | Bus publish messages per upload (classic) | Sharded | Redis commands per upload | Busiest master ÷ mean |',
  '| ---: | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.masters} | ${r.busPublishPerUpload.toFixed(2)} | ${r.busPublishShardPerUpload.toFixed(2)} | ${r.commandsPerUpload.toFixed(1)} | ${r.busiestMasterShare.toFixed(2)} |`,
  ),
];
console.log(table.join('\n'));
const out = arg('--out');
if (out) writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
