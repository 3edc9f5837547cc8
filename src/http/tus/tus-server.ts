import type { IncomingMessage } from 'node:http';
import { Server } from '@tus/server';
import type { Lock, Locker } from '@tus/utils';
import { allowsAnyOrigin, type Config } from '../../config/load-config.js';
import type { AppError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import { metadataOfHeader } from '../../uploads/store/tus-upload.js';
import type { UploadStore } from '../../uploads/store/upload-store.js';
import { metadataForCreation } from '../endpoint/creation-hook.js';
import { DRAFT_REQUEST_HEADERS, DRAFT_RESPONSE_HEADERS } from '../endpoint/headers.js';
import type { RequestInput } from '../endpoint/request-frame.js';
import { uploadIdFromPath } from '../endpoint/upload-path.js';
import { ERROR_CODE_HEADER, toAppError } from '../errors.js';

export type TusServerDeps = Readonly<{
  config: Config;
  tusStore: TrackedStore;
  uploadStore: UploadStore;
  logger: Logger;
  preCreate: PreCreateHook | undefined;
}>;

/** One request handed to @tus/server, as its callbacks (which get only the web Request) find it. */
export type TusCall = Readonly<{
  req: IncomingMessage;
  input: RequestInput;
  /** The ID a creation's upload gets (chosen before, so that its lock can be taken first). */
  id?: string;
  /** Hears the error the request was answered with (its code goes into the response headers). */
  answeredWith: (error: AppError) => void;
}>;

/** @tus/server takes no lock: a creation with a body holds the new upload's lock already, and OPTIONS needs none. */
const NO_LOCK: Lock = { lock: async () => {}, unlock: async () => {} };
const NO_LOCKS: Locker = { newLock: () => NO_LOCK };

/**
 * @tus/server, configured for what it serves here: OPTIONS, and the creation
 * part of a POST (its headers checked, the pre-create hook asked, the upload
 * named and created through the store, 201 with Location and Upload-Expires).
 * It is never handed a body, nor a request on an existing upload: those are
 * served by http/tus/tus-procedures.ts. `serve` hands it one request, whose
 * callbacks find what they need of it through the web Request they get.
 */
export function createTusServer({ config, tusStore, uploadStore, logger, preCreate }: TusServerDeps) {
  const calls = new WeakMap<Request, TusCall>();
  const callOf = (req: Request): TusCall => {
    const call = calls.get(req);
    if (!call) throw new Error('@tus/server served a request this server did not hand it');
    return call;
  };
  const server = new Server({
    path: config.server.tusPath,
    datastore: tusStore,
    locker: NO_LOCKS,
    maxSize: (req) =>
      uploadStore.maxNewSize(metadataOfHeader(req.headers.get('upload-metadata')), callOf(req).input.caller),
    relativeLocation: config.server.relativeLocation,
    respectForwardedHeaders: config.server.trustProxy,
    allowedOrigins: allowsAnyOrigin(config) ? undefined : [...config.server.corsOrigins],
    allowedHeaders: ['Upload-Checksum', 'Idempotency-Key', ...DRAFT_REQUEST_HEADERS],
    exposedHeaders: [ERROR_CODE_HEADER, ...DRAFT_RESPONSE_HEADERS],
    namingFunction: (req) => {
      const { id } = callOf(req);
      if (!id) throw new Error('a creation was handed to @tus/server without the ID chosen for it');
      return id;
    },
    getFileIdFromRequest: (req) => uploadIdFromPath(new URL(req.url).pathname, config.server.tusPath),
    onUploadCreate: async (req, upload) => {
      const call = callOf(req);
      const metadata = await metadataForCreation(preCreate, call.input, {
        upload,
        method: 'POST',
        url: new URL(req.url).pathname,
        headers: call.req.headers,
      });
      return { metadata };
    },
    onResponseError: (req, error) => {
      const call = calls.get(req);
      const e = toAppError(error, call?.input.logger ?? logger);
      call?.answeredWith(e);
      return { status_code: e.status_code, body: e.body };
    },
  });
  return {
    /** Serves one request (OPTIONS, or a creation, without its body) through @tus/server. */
    serve: (call: TusCall): Promise<Response> => {
      const { req } = call;
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        // Without Content-Type, @tus/server reads no body: a creation's body is appended by our own procedure.
        if (value === undefined || name === 'content-type') continue;
        for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
      }
      const request = new Request(new URL(req.url ?? '/', 'http://localhost'), { method: req.method, headers });
      calls.set(request, call);
      return server.handleWeb(request);
    },
  };
}

export type TusServer = ReturnType<typeof createTusServer>;
