import express, { type Router } from 'express';
import { invalidUploadId, uploadNotFound } from '../errors.js';
import type { UploadReader } from '../uploads/progress.js';
import { parseUploadId } from '../uploads/upload-id.js';

function requireUploadId(value: unknown): string {
  const id = parseUploadId(value);
  if (!id) throw invalidUploadId();
  return id;
}

/**
 * Read-only JSON endpoints for dashboards, plus the cheat sheet's own paths
 * (`/api/upload/progress/:uploadId`, `POST /api/upload/retry`) so a frontend
 * written against it works unchanged.
 */
export function dashboardRoutes(reader: UploadReader): Router {
  const router = express.Router();

  const sendProgress = async (raw: unknown, res: express.Response) => {
    const progress = await reader.readProgress(requireUploadId(raw));
    if (!progress) throw uploadNotFound();
    res.set('Cache-Control', 'no-store').json(progress);
  };
  const sendMissing = async (raw: unknown, res: express.Response) => {
    const missing = await reader.readMissing(requireUploadId(raw));
    if (!missing) throw uploadNotFound();
    res.set('Cache-Control', 'no-store').json(missing);
  };

  router.get('/api/uploads/:id/progress', (req, res) => sendProgress(req.params.id, res));
  router.get('/api/uploads/:id/missing', (req, res) => sendMissing(req.params.id, res));
  router.get('/api/upload/progress/:uploadId', (req, res) => sendProgress(req.params.uploadId, res));
  router.post('/api/upload/retry', express.json({ limit: '4kb' }), (req, res) =>
    sendMissing((req.body as { uploadId?: unknown } | undefined)?.uploadId, res),
  );
  return router;
}
