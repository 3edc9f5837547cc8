import express, { type Router } from 'express';
import type { UploadAccess } from '../../auth/upload-access.js';
import { appError } from '../../errors/app-error.js';
import { isGroupName, parseUploadId } from '../../uploads/model/upload-id.js';
import type { UploadReader } from '../../uploads/read/upload-reader.js';

/** The chunk grid a new upload may have, and the largest upload (see UploadStore.grid). */
type Grid = Readonly<{
  chunkSizeBytes: number;
  minChunkBytes: number;
  maxChunkBytes: number;
  maxChunks: number;
  maxUploadBytes: number;
}>;

function requireUploadId(value: unknown): string {
  const id = parseUploadId(value);
  if (!id) throw appError('INVALID_UPLOAD_ID');
  return id;
}

/**
 * Read-only JSON endpoints for dashboards, plus the cheat sheet's own paths
 * (`/api/upload/progress/:uploadId`, `POST /api/upload/retry`) so a frontend
 * written against it works unchanged.
 */
export function dashboardRoutes(reader: UploadReader, access: UploadAccess, grid: () => Grid): Router {
  const router = express.Router();

  // Public, as tus OPTIONS is: what a client may choose before it creates an upload (the demo's chunk grid).
  router.get('/api/limits', (_req, res) => {
    res.set('Cache-Control', 'no-store').json(grid());
  });

  const sendProgress = async (raw: unknown, req: express.Request, res: express.Response) => {
    const id = requireUploadId(raw);
    await access.check(req, 'read', id);
    const progress = await reader.readProgress(id);
    if (!progress) throw appError('UPLOAD_NOT_FOUND');
    res.set('Cache-Control', 'no-store').json(progress);
  };
  const sendMissing = async (raw: unknown, req: express.Request, res: express.Response) => {
    const id = requireUploadId(raw);
    await access.check(req, 'read', id);
    const missing = await reader.readMissing(id);
    if (!missing) throw appError('UPLOAD_NOT_FOUND');
    res.set('Cache-Control', 'no-store').json(missing);
  };

  router.get('/api/uploads/:id/progress', (req, res) => sendProgress(req.params.id, req, res));
  router.get('/api/uploads/:id/missing', (req, res) => sendMissing(req.params.id, req, res));
  router.get('/api/upload/progress/:uploadId', (req, res) => sendProgress(req.params.uploadId, req, res));
  router.get('/api/groups/:group/progress', async (req, res) => {
    const group = req.params.group;
    if (!isGroupName(group)) throw appError('INVALID_GROUP', { field: 'group' });
    // The caller's own group: group names are per owner (see Keys.group).
    const { owner } = await access.checkMembers(req, 'read', (o) => reader.groupMembers(group, o));
    const progress = await reader.readGroup(group, owner);
    if (!progress) throw appError('GROUP_NOT_FOUND');
    res.set('Cache-Control', 'no-store').json(progress);
  });
  router.post('/api/upload/retry', express.json({ limit: '4kb' }), (req, res) =>
    sendMissing((req.body as { uploadId?: unknown } | undefined)?.uploadId, req, res),
  );
  return router;
}
