// npm run bench:profile -- <small|large|reads> [ours|peer|pre]: CPU profile of one server under one workload, and where its
// time goes (self time by module and by function). The profile is written under the OS temp dir.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedisServer } from '../../src/redis/local-server.js';
import { spawnServer } from './servers.js';
import { pool, TusLoad } from './tus-load.js';

const workload = process.argv[2] ?? 'small';
const kind = process.argv[3] ?? 'ours';
const root = mkdtempSync(path.join(tmpdir(), 'tus-profile-'));
const profDir = path.join(root, 'prof');
const redis = await startRedisServer({ dir: path.join(root, 'redis'), appendOnly: true });
// pre: another checkout's build, to compare before and after a change (PRE_DIST=/path/to/dist/main.js).
const args =
  kind === 'ours'
    ? ['dist/main.js']
    : kind === 'pre'
      ? [process.env.PRE_DIST ?? 'dist/main.js']
      : ['--import', 'tsx', `test/bench/${kind}-server.ts`];
const server = await spawnServer(kind, [`--cpu-prof`, `--cpu-prof-dir=${profDir}`, ...args], {
  UPLOAD_DIR: path.join(root, 'files'),
  REDIS_URL: redis.url,
  REDIS_KEY_PREFIX: 'prof:',
});
const load = new TusLoad(server.url, 32);
const started = performance.now();
let count = 0;
if (workload === 'small') {
  const body = randomBytes(4096);
  count = 3000;
  await pool(count, 32, async () => {
    await load.patch(await load.create(body.length), 0, body);
  });
} else if (workload === 'reads') {
  // Dashboard reads: the progress of uploads in flight, GET after GET (ours only: the peer has no such route).
  const urls = await Promise.all(Array.from({ length: 50 }, () => load.create(1024 * 1024)));
  count = 10_000;
  await pool(count, 16, async (i) => {
    const id = (urls[i % urls.length] as string).split('/').pop();
    await load.send('GET', `/api/uploads/${id}/progress`, {});
  });
} else {
  const piece = randomBytes(8 * 1024 * 1024);
  count = 24;
  await pool(count, 4, async () => {
    const url = await load.create(64 * 1024 * 1024);
    for (let offset = 0; offset < 64 * 1024 * 1024; offset += piece.length) await load.patch(url, offset, piece);
  });
}
const seconds = (performance.now() - started) / 1000;
load.close();
// SIGINT makes Node write the profile on exit (servers.ts sends SIGTERM; ours and the peer exit on it).
await server.stop();
await redis.stop();
const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number };
const profile = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
};
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const byModule = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const us = self.get(node.id) ?? 0;
  if (us === 0) continue;
  const url = node.callFrame.url;
  const module =
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
    (url.includes('/dist/') || url.includes('/src/')
      ? `ours:${url
          .split(/\/(?:dist|src)\//)[1]
          ?.split('/')
          .slice(0, 2)
          .join('/')}`
      : url.startsWith('node:')
        ? url
        : url === ''
          ? `(${node.callFrame.functionName})`
          : url);
  byModule.set(module, (byModule.get(module) ?? 0) + us);
  const fn = `${node.callFrame.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const idle = byModule.get('((idle))') ?? 0;
const total = profile.endTime - profile.startTime - idle;
const top = (map: Map<string, number>, n: number) =>
  [...map.entries()]
    .filter(([k]) => k !== '((idle))' && k !== '(idle) :-1')
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([k, us]) =>
        `${(us / 1000 / count).toFixed(3).padStart(8)} ms/unit ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
    );
console.log(
  `${kind} ${workload}: ${count} units in ${seconds.toFixed(1)} s; main-thread CPU ${(total / 1000 / count).toFixed(3)} ms per unit`,
);
console.log(`\nBy module:\n${top(byModule, 25).join('\n')}`);
console.log(`\nBy function:\n${top(byFunction, 40).join('\n')}`);
console.log(`\nprofile: ${path.join(profDir, file)}`);
