import { Server } from '@tus/server';
import type { Lock, Locker } from '@tus/utils';
import { allowsAnyOrigin, type Config } from '../../config/load-config.js';
import type { AppError } from '../../errors/app-error.js';
import { appError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import { newUploadId } from '../../uploads/model/upload-id.js';
import { currentTusRequest } from '../../uploads/store/request-context.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import { DRAFT_REQUEST_HEADERS, DRAFT_RESPONSE_HEADERS } from '../draft/interop.js';
import { ERROR_CODE_HEADER, toAppError } from '../errors.js';
import { metadataForCreation } from './creation-hook.js';
import { uploadIdFromPath } from './upload-path.js';

export type TusServerDeps = Readonly<{
  config: Config;
  store: TrackedStore;
  locker: Locker;
  logger: Logger;
  preCreate: PreCreateHook | undefined;
  /** Hears the error each tus request was answered with (its code goes into the response headers). */
  answeredWith: (request: Request, error: AppError) => void;
}>;

/** What a tus creation takes instead of a lock. */
const NO_LOCK: Lock = { lock: async () => {}, unlock: async () => {} };

/**
 * The locker @tus/server is given: the real one, except for a creation
 * without a body (`Content-Length: 0`). Its upload ID is fresh and random and
 * nothing it does can be contended: it answers once the upload exists, so a
 * lock would only cost round trips. A creation with a body (tus
 * creation-with-upload) takes the lock: its upload is named before the body
 * is read (the `created` event, webhooks, the uploads list), and a DELETE or
 * HEAD meanwhile must stop its writer as for any PATCH. (The IETF draft's
 * creation, whose 104 names the upload early, always takes one.)
 */
function creationsUnlocked(locker: Locker): Locker {
  return {
    newLock: (id) => {
      const { method, bodyLength } = currentTusRequest().input;
      return method === 'POST' && bodyLength === 0 ? NO_LOCK : locker.newLock(id);
    },
  };
}

/** @tus/server, configured: the protocol engine, speaking to our store and locker. */
export function createTusServer({ config, store, locker, logger, preCreate, answeredWith }: TusServerDeps): Server {
  return new Server({
    path: config.server.tusPath,
    datastore: store,
    locker: creationsUnlocked(locker),
    // A request that finds its upload held ends the one in flight at once (not after @tus/server's 3 s):
    // the holder stops reading, records what it stored and lets go (0 would mean the default, 3000).
    lockDrainTimeout: 1,
    maxSize: (req, id) =>
      store.maxSizeFor(req.method === 'POST' ? undefined : (id ?? undefined), req.headers.get('upload-metadata')),
    relativeLocation: config.server.relativeLocation,
    respectForwardedHeaders: config.server.trustProxy,
    allowedOrigins: allowsAnyOrigin(config) ? undefined : [...config.server.corsOrigins],
    allowedHeaders: ['Upload-Checksum', ...DRAFT_REQUEST_HEADERS],
    exposedHeaders: [ERROR_CODE_HEADER, ...DRAFT_RESPONSE_HEADERS],
    namingFunction: () => newUploadId(),
    getFileIdFromRequest: (req) => uploadIdFromPath(new URL(req.url).pathname, config.server.tusPath),
    onUploadCreate: async (req, upload) => ({
      metadata: await metadataForCreation(preCreate, currentTusRequest().input, {
        upload,
        method: req.method,
        url: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
      }),
    }),
    onResponseError: (req, error) => {
      const pathname = new URL(req.url).pathname;
      // A malformed ID is not an unknown upload's ID: its answer says what an upload URL looks like.
      const malformed =
        (error as { status_code?: number }).status_code === 404 &&
        pathname.startsWith(`${config.server.tusPath}/`) &&
        !uploadIdFromPath(pathname, config.server.tusPath);
      const e = malformed
        ? appError('NOT_AN_UPLOAD_URL')
        : toAppError(error, currentTusRequest().input.logger ?? logger);
      answeredWith(req, e);
      return { status_code: e.status_code, body: e.body };
    },
  });
}
