import express, { type Router } from 'express';
import type { UploadAccess } from '../../auth/upload-access.js';
import { appError } from '../../errors/app-error.js';
import type { UploadEventFeed } from '../../uploads/events/live-feed.js';
import { parseUploadId } from '../../uploads/model/upload-id.js';
import type { UploadStatus } from '../../uploads/model/upload-record.js';
import type { UploadReader } from '../../uploads/read/upload-reader.js';
import { rowView } from '../../uploads/read/views.js';
import { requireDashboardToken } from './dashboard-token.js';
import { EventStream } from './event-stream.js';

const STATUSES: readonly UploadStatus[] = ['uploading', 'assembling', 'completed', 'failed'];
const SNAPSHOT_ROWS = 50;

function pageOptions(query: Record<string, unknown>) {
  const status = query.status === undefined ? undefined : String(query.status);
  if (status !== undefined && !STATUSES.includes(status as UploadStatus)) {
    throw appError('INVALID_STATUS_FILTER', { statuses: STATUSES });
  }
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw appError('INVALID_PAGE_LIMIT');
  }
  const cursor = query.cursor === undefined ? undefined : String(query.cursor);
  return { status: status as UploadStatus | undefined, limit, cursor };
}

/**
 * The uploads list and live updates (Server-Sent Events). Per-upload streams
 * are open to whoever holds the upload's ID, as its tus URL is; the list and
 * the all-uploads stream need the dashboard token.
 */
export function liveRoutes(
  reader: UploadReader,
  feed: UploadEventFeed,
  access: UploadAccess,
  settings: Readonly<{ token: string | undefined; streamsPerClient: number; streamsPerInstance: number }>,
): Router {
  const router = express.Router();
  const needsToken = requireDashboardToken(settings.token);
  const open = new Map<string, number>();
  let openHere = 0;
  /**
   * Each open stream costs this instance a connection and a listener: one
   * client may hold only so many (by its address: the one the trusted proxy
   * reports behind TRUST_PROXY, never an X-Forwarded-For hop a client wrote),
   * and the instance only so many in all.
   */
  const openStream = (req: express.Request, res: express.Response): EventStream => {
    const client = req.ip ?? req.socket.remoteAddress ?? '';
    const count = open.get(client) ?? 0;
    if (count >= settings.streamsPerClient) throw appError('TOO_MANY_STREAMS', { most: settings.streamsPerClient });
    if (openHere >= settings.streamsPerInstance) throw appError('STREAMS_FULL', { most: settings.streamsPerInstance });
    open.set(client, count + 1);
    openHere++;
    res.once('close', () => {
      openHere--;
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
    return new EventStream(res);
  };

  router.get('/api/uploads', needsToken, async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await reader.listUploads(pageOptions(req.query)));
  });

  // Every change to any upload; on (re)connection a snapshot of the latest ones.
  router.get('/api/uploads/events', needsToken, async (req, res) => {
    const snapshot = await reader.listUploads({ limit: SNAPSHOT_ROWS });
    const stream = openStream(req, res);
    stream.send('snapshot', 'snapshot', String(Date.now()), snapshot);
    const stop = feed.listen((message) => stream.send(message.id, message.type, String(message.at), message));
    res.once('close', stop);
  });

  // Changes to one upload, to its owner; on (re)connection its state, unless Last-Event-ID shows the client has it.
  router.get('/api/uploads/:id/events', async (req, res) => {
    const id = parseUploadId(req.params.id);
    if (!id) throw appError('INVALID_UPLOAD_ID');
    await access.check(req, 'read', id);
    const record = await reader.readRecord(id);
    if (!record) throw appError('UPLOAD_NOT_FOUND');
    const stream = openStream(req, res);
    const seen = Number(req.headers['last-event-id'] ?? Number.NaN);
    if (!(seen >= record.updatedAt)) {
      stream.send(id, 'snapshot', String(record.updatedAt), {
        type: 'snapshot',
        id,
        at: record.updatedAt,
        upload: rowView(record),
      });
    }
    const stop = feed.listen((message) => stream.send(id, message.type, String(message.at), message), id);
    res.once('close', stop);
  });

  return router;
}
