// What one upload and one PATCH cost ours in Redis, one request at a time on an otherwise idle server:
//   commands          INFO commandstats deltas: every command Redis ran, including those a script runs;
//   topLevelCommands  MONITOR: the commands the server sent with one of its keys (a MULTI block counts once);
//   roundTrips        the counting proxy (redis-proxy.ts) the server reaches Redis through: bursts sent from
//                     idle, i.e. the times a connection sent a batch and then had to wait for Redis;
//                     roundTripsBeforeReply of them began before the HTTP reply reached the client (the rest
//                     are work the request did not wait for).
// Before each request the proxy is let settle (no reply outstanding, 100 ms without traffic) so that what one
// request leaves running after its reply is counted with it and not with the next. One upload first warms the
// server up (script loading, subscriber connections) and is not counted.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisProxy } from './redis-proxy.js';
import { TusLoad } from './tus-load.js';

const MiB = 1024 * 1024;

type Cost = { commands: number; topLevelCommands: number; roundTrips: number; roundTripsBeforeReply: number };

async function totalCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function meter(redisUrl: string, prefix: string, proxy: RedisProxy) {
  const admin = new Redis(redisUrl);
  admin.on('error', () => {});
  const monitor = await admin.duplicate().monitor();
  monitor.on('error', () => {});
  let topLevel = 0;
  let inMulti = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source.includes('lua')) return; // run by a script: not sent by the server
    const name = (args[0] ?? '').toLowerCase();
    if (name === 'multi') inMulti = true;
    else if (name === 'exec') {
      inMulti = false;
      topLevel++; // a transaction counts once
    } else if (!inMulti && args.some((a) => a.includes(prefix))) topLevel++;
  });
  await new Promise((r) => setTimeout(r, 200));
  const settle = async () => {
    await proxy.settled();
    await new Promise((r) => setTimeout(r, 20)); // MONITOR's stream trails by a little
  };
  return {
    /**
     * Runs `work` alone and adds what it cost to `into`; with `bursts`, also what was sent, one string per
     * round trip ("c<connection>: command command …").
     */
    async measure(into: Cost, work: () => Promise<unknown>, bursts?: string[]) {
      await settle();
      if (bursts)
        proxy.trace((connection, command, starts) => {
          if (starts || bursts.length === 0) bursts.push(`c${connection}:`);
          bursts[bursts.length - 1] += ` ${command}`;
        });
      const calls = await totalCalls(admin);
      const top = topLevel;
      const trips = proxy.roundTrips;
      await work();
      const tripsAtReply = proxy.roundTrips;
      await settle();
      proxy.trace(undefined);
      // The INFO that took `calls` is counted in the next INFO, not in its own.
      into.commands += (await totalCalls(admin)) - calls - 1;
      into.topLevelCommands += topLevel - top;
      into.roundTrips += proxy.roundTrips - trips;
      into.roundTripsBeforeReply += tripsAtReply - trips;
    },
    /** Round trips the server makes by itself while idle, per second (its timers). */
    async idleRoundTripsPerSecond(ms: number) {
      await settle();
      const trips = proxy.roundTrips;
      await new Promise((r) => setTimeout(r, ms));
      return ((proxy.roundTrips - trips) * 1000) / ms;
    },
    close() {
      monitor.disconnect();
      admin.disconnect();
    },
  };
}

const zero = (): Cost => ({ commands: 0, topLevelCommands: 0, roundTrips: 0, roundTripsBeforeReply: 0 });
const per = (c: Cost, count: number): Cost => ({
  commands: c.commands / count,
  topLevelCommands: c.topLevelCommands / count,
  roundTrips: c.roundTrips / count,
  roundTripsBeforeReply: c.roundTripsBeforeReply / count,
});
const sum = (a: Cost, b: Cost): Cost => ({
  commands: a.commands + b.commands,
  topLevelCommands: a.topLevelCommands + b.topLevelCommands,
  roundTrips: a.roundTrips + b.roundTrips,
  roundTripsBeforeReply: a.roundTripsBeforeReply + b.roundTripsBeforeReply,
});

/** `base` is ours started with REDIS_URL = proxy.url; `redisUrl` is Redis itself. */
export async function measureRedisCost(base: string, redisUrl: string, prefix: string, proxy: RedisProxy) {
  const load = new TusLoad(base, 4);
  const m = await meter(redisUrl, prefix, proxy);
  const small = randomBytes(4096);
  await load.patch(await load.create(small.length), 0, small); // warm-up, not counted
  const idleRoundTripsPerSecond = await m.idleRoundTripsPerSecond(1000);
  const n = 20;
  const posts = zero();
  const patches = zero();
  const sample = { post: [] as string[], patch: [] as string[] };
  for (let i = 0; i < n; i++) {
    let url = '';
    await m.measure(
      posts,
      async () => {
        url = await load.create(small.length);
      },
      i === 0 ? sample.post : undefined,
    );
    await m.measure(patches, () => load.patch(url, 0, small), i === 0 ? sample.patch : undefined);
  }
  const piece = randomBytes(8 * MiB);
  const url = await load.create(64 * MiB);
  await load.patch(url, 0, piece);
  const midPatch = zero();
  await m.measure(midPatch, () => load.patch(url, 8 * MiB, piece));
  const bigUrl = await load.create(64 * MiB);
  const onePatch = zero();
  await m.measure(onePatch, () =>
    load.patch(
      bigUrl,
      0,
      Array.from({ length: 8 }, () => piece),
    ),
  );
  m.close();
  load.close();
  return {
    perSmallUpload: per(sum(posts, patches), n),
    perSmallPost: per(posts, n),
    perSmallPatch: per(patches, n),
    perMiddlePatch8MiB: midPatch,
    perWholeUploadIn1Patch64MiB: onePatch,
    idleRoundTripsPerSecond,
    /** The round trips of the first measured small upload, each as its connection and the commands it sent. */
    sampleRoundTrips: sample,
    method:
      'commands: INFO commandstats delta (incl. commands run by scripts); topLevelCommands: MONITOR, commands with a key of this server, MULTI block once; roundTrips: bursts each connection sends while it has no reply outstanding, counted by a RESP-parsing proxy (test/bench/redis-proxy.ts); roundTripsBeforeReply: those begun before the HTTP reply. One request at a time, traffic settled in between.',
  };
}

export type RedisCost = Awaited<ReturnType<typeof measureRedisCost>>;
