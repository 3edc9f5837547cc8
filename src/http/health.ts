import express, { type Router } from 'express';
import type { Drain } from './drain.js';

/** A readiness check: `ok`, or what is wrong. */
export type ReadinessCheck = () => Promise<string>;

/**
 * `/healthz`: the process is up. `/readyz`: it can take uploads now: not
 * shutting down, and every check `ok` (Redis answers, the byte store can take
 * bytes). For load balancers and compose healthchecks.
 */
export function healthRoutes(checks: Readonly<Record<string, ReadinessCheck>>, drain: Drain): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => (checks[name] as ReadinessCheck)()));
    const shuttingDown = drain.draining;
    const ready = !shuttingDown && results.every((r) => r === 'ok');
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        status: ready ? 'ready' : 'not ready',
        shuttingDown,
        ...Object.fromEntries(names.map((name, i) => [name, results[i]])),
      });
  });
  return router;
}
