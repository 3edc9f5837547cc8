// What one upload and one PATCH cost in Redis, from INFO commandstats deltas
// (every command, including those a script runs) and MONITOR (the top-level
// commands the server sends; a MULTI block counts once). Commands sent in the
// same tick share one round trip (ioredis auto-pipelining), which MONITOR
// cannot see: docs/benchmark.md counts the round trips a request waits on.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TusLoad } from './tus-load.js';

const MiB = 1024 * 1024;

async function totalCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function measure(redisUrl: string, prefix: string, work: () => Promise<void>) {
  const redis = new Redis(redisUrl);
  redis.on('error', () => {});
  const monitor = await redis.duplicate().monitor();
  monitor.on('error', () => {});
  let topLevel = 0;
  let inMulti = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source.includes('lua')) return; // run by a script: not a round trip of its own
    const name = (args[0] ?? '').toLowerCase();
    if (name === 'multi') inMulti = true;
    else if (name === 'exec') {
      inMulti = false;
      topLevel++; // a transaction is one round trip
    } else if (!inMulti && args.some((a) => a.includes(prefix))) topLevel++;
  });
  await new Promise((r) => setTimeout(r, 200));
  const before = await totalCalls(redis);
  await work();
  await new Promise((r) => setTimeout(r, 200));
  const after = await totalCalls(redis);
  monitor.disconnect();
  redis.disconnect();
  // The two INFO calls themselves.
  return { commands: after - before - 1, topLevelCommands: topLevel };
}

export async function measureRedisCost(base: string, redisUrl: string, prefix: string) {
  const load = new TusLoad(base, 4);
  const small = randomBytes(4096);
  const n = 20;
  const smallUploads = await measure(redisUrl, prefix, async () => {
    for (let i = 0; i < n; i++) await load.patch(await load.create(small.length), 0, small);
  });
  const piece = randomBytes(8 * MiB);
  const url = await load.create(64 * MiB);
  await load.patch(url, 0, piece);
  const midPatch = await measure(redisUrl, prefix, async () => {
    await load.patch(url, 8 * MiB, piece);
  });
  const bigUrl = await load.create(64 * MiB);
  const onePatch = await measure(redisUrl, prefix, async () => {
    await load.patch(
      bigUrl,
      0,
      Array.from({ length: 8 }, () => piece),
    );
  });
  load.close();
  const per = (m: { commands: number; topLevelCommands: number }, count: number) => ({
    commands: m.commands / count,
    topLevelCommands: m.topLevelCommands / count,
  });
  return {
    perSmallUpload: per(smallUploads, n),
    perMiddlePatch8MiB: per(midPatch, 1),
    perWholeUploadIn1Patch64MiB: per(onePatch, 1),
  };
}
