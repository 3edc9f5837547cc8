import express, { type Router } from 'express';
import { AppError, invalidUploadId, uploadNotFound } from '../errors.js';
import type { UploadReader } from '../uploads/progress.js';
import { GROUP_RULE, isGroupName, parseUploadId } from '../uploads/upload-id.js';

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
  router.get('/api/groups/:group/progress', async (req, res) => {
    const group = req.params.group;
    if (!isGroupName(group)) throw new AppError('INVALID_REQUEST', 400, `Invalid group: ${GROUP_RULE}`);
    const progress = await reader.readGroup(group);
    if (!progress) throw new AppError('UPLOAD_NOT_FOUND', 404, 'No upload belongs to this group');
    res.set('Cache-Control', 'no-store').json(progress);
  });
  router.post('/api/upload/retry', express.json({ limit: '4kb' }), (req, res) =>
    sendMissing((req.body as { uploadId?: unknown } | undefined)?.uploadId, res),
  );
  return router;
}
