import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { startRedisServer } from './src/redis/local-server.js';
import { pool, TusLoad } from './test/bench/tus-load.js';

const redis = await startRedisServer({ dir: '/tmp/scratch/profredis', appendOnly: true });
rmSync('/tmp/prof', { recursive: true, force: true });
const kind = process.argv[2] ?? 'ours';
const child =
  kind === 'ours'
    ? spawn('node', ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/main.js'], {
        env: {
          ...process.env,
          PORT: '18555',
          HOST: '127.0.0.1',
          UPLOAD_DIR: '/tmp/scratch/profup',
          REDIS_URL: redis.url,
          LOG_LEVEL: 'warn',
        },
        stdio: 'inherit',
      })
    : spawn('node', ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--import', 'tsx', 'test/bench/peer-server.js'], {
        env: { ...process.env, PORT: '18555', UPLOAD_DIR: '/tmp/scratch/profup' },
        stdio: 'inherit',
      });
await new Promise((r) => setTimeout(r, 1500));
const load = new TusLoad('http://127.0.0.1:18555', 8);
const payload = randomBytes(8 * 1024 * 1024);
const t = performance.now();
await pool(16, 4, async () => {
  const url = await load.create(64 * 1024 * 1024);
  for (let o = 0; o < 64 * 1024 * 1024; o += payload.length) await load.patch(url, o, payload);
});
console.log(kind, 'MB/s', ((16 * 64 * 1024 * 1024) / 1e6 / ((performance.now() - t) / 1000)).toFixed(1));
load.close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await redis.stop();
rmSync('/tmp/scratch/profup', { recursive: true, force: true });
