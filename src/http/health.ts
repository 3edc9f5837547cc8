import { randomUUID } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import express, { type Router } from 'express';
import type { RedisClient } from '../redis/client.js';
import type { Drain } from './drain.js';

/**
 * `/healthz`: the process is up. `/readyz`: it can take uploads now: not
 * shutting down, Redis answers, the upload directory is writable. For load
 * balancers and compose healthchecks.
 */
export function healthRoutes(redis: RedisClient, uploadDir: string, drain: Drain): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redisCheck, diskCheck] = await Promise.all([
      redis.ping().then(
        () => 'ok',
        (error: Error) => `unavailable: ${error.message}`,
      ),
      probeDirectory(uploadDir),
    ]);
    const shuttingDown = drain.draining;
    const ready = !shuttingDown && redisCheck === 'ok' && diskCheck === 'ok';
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ready ? 'ready' : 'not ready', shuttingDown, redis: redisCheck, uploadDir: diskCheck });
  });
  return router;
}

async function probeDirectory(dir: string): Promise<string> {
  const probe = path.join(dir, `.readyz-${randomUUID()}`);
  try {
    await writeFile(probe, 'ok');
    await unlink(probe);
    return 'ok';
  } catch (error) {
    return `not writable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
