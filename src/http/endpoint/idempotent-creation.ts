import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, appError } from '../../errors/app-error.js';
import type { UploadLocker } from '../../uploads/coordination/upload-lock.js';
import type { Caller } from '../../uploads/model/caller.js';
import type { IdempotencyKeys } from '../../uploads/state/idempotency-keys.js';
import type { OpenUpload, UploadStore } from '../../uploads/store/upload-store.js';
import { underLock } from './upload-lock.js';

export type IdempotencyDeps = Readonly<{
  idempotency: IdempotencyKeys;
  uploadStore: UploadStore;
  locker: UploadLocker;
}>;

/** What a creation's Idempotency-Key decided: the upload an earlier creation made, or a claim for the new one. */
export type CreationClaim = Readonly<{
  /** The upload a creation with the same key made, as it stands now. */
  earlier?: OpenUpload;
  /** Lets the key go again: the new creation was refused, and created nothing. */
  release: () => Promise<void>;
}>;

const NO_CLAIM: CreationClaim = { release: async () => {} };

/**
 * For a creation (tus or draft) that carries an Idempotency-Key: the upload a
 * creation with the same key (and owner) made, if it still exists, taken as it
 * stands under its lock, so that a transfer still in flight ends first and its
 * offset is the one to resume at; otherwise the key is claimed for the new
 * upload `id`. `size` is what the new creation says of the upload's length: an
 * earlier upload of another size is a reused key (422).
 */
export async function claimCreation(
  deps: IdempotencyDeps,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  id: string,
  size: number | undefined,
): Promise<CreationClaim> {
  const key = idempotencyKeyOf(req);
  if (key === undefined) return NO_CLAIM;
  const { idempotency, uploadStore, locker } = deps;
  const release = () => idempotency.release(caller.owner, key, id).catch(() => {});
  const earlierId = await idempotency.claim(caller.owner, key, id);
  if (earlierId === undefined) return { release };
  const earlier = await underLock(locker, earlierId, res, (lock) => uploadStore.open(earlierId, caller, lock)).catch(
    (error) => {
      if (error instanceof AppError && (error.code === 'UPLOAD_NOT_FOUND' || error.code === 'UPLOAD_GONE')) return;
      throw error;
    },
  );
  if (!earlier) {
    await idempotency.replace(caller.owner, key, id);
    return { release };
  }
  if (size !== undefined && earlier.size !== undefined && size !== earlier.size)
    throw appError('IDEMPOTENCY_KEY_REUSED');
  return { earlier, release: async () => {} };
}

/**
 * The Idempotency-Key of a request: an sf-string, as its draft defines it
 * (`Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`), or the bare
 * token many clients send; undefined when there is none.
 */
function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const quoted = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(text);
  const key = quoted ? (quoted[1] as string).replace(/\\(["\\])/g, '$1') : text;
  if (key.length === 0 || key.length > 255 || !/^[\x20-\x7e]+$/.test(key)) throw appError('INVALID_IDEMPOTENCY_KEY');
  return key;
}
