import { DataStore, type Upload } from '@tus/utils';
import type { UploadLock } from '../coordination/upload-lock.js';
import type { Caller } from '../model/caller.js';
import { toUpload } from './tus-upload.js';
import type { OpenUpload, UploadStore } from './upload-store.js';

/** What @tus/server cannot tell `create` of a creation it serves: who asks, and how. */
export type Creator = Readonly<{
  caller: Caller;
  /** tus `Upload-Concat: partial`. */
  partial: boolean;
  /** The lock the request holds on the new ID (a creation with a body), if any. */
  lock?: UploadLock;
}>;

/** A creation @tus/server is serving: announced before, and its result once `create` has run. */
export type PendingCreation = { readonly creator: Creator; created?: OpenUpload };

/**
 * The tus DataStore @tus/server is given. @tus/server serves only OPTIONS and
 * the creation part of a POST (it validates the creation's headers, asks the
 * pre-create hook, names the upload, answers 201); every request that touches
 * an existing upload, and every body, goes through the UploadStore's own
 * procedures instead. So `write` and `remove` are never called, and `create`
 * learns who asks from the creation the HTTP layer announced under the new
 * upload's ID (`expectCreation`), not from the request.
 */
export class TrackedStore extends DataStore {
  private readonly pending = new Map<string, PendingCreation>();

  constructor(
    private readonly uploads: UploadStore,
    /** One sweep of expired uploads; resolves to how many were removed. */
    private readonly sweep: () => Promise<number>,
  ) {
    super();
    this.extensions = [
      'creation',
      'creation-with-upload',
      'creation-defer-length',
      'termination',
      'expiration',
      'checksum',
      'concatenation',
      // @tus/server answers 501 to any Upload-Concat unless the store claims this
      // misspelled name; partial uploads then pass through it. It is taken out of
      // OPTIONS again (http/tus), and final uploads never reach @tus/server.
      'concatentation',
    ];
  }

  /**
   * Announces that @tus/server is about to create upload `id` for `creator`;
   * returns the creation, whose `created` is set once it is made. `done` must
   * be called once @tus/server has answered.
   */
  expectCreation(id: string, creator: Creator): { creation: PendingCreation; done: () => void } {
    const creation: PendingCreation = { creator };
    this.pending.set(id, creation);
    return { creation, done: () => this.pending.delete(id) };
  }

  override async create(upload: Upload): Promise<Upload> {
    const creation = this.pending.get(upload.id);
    if (!creation) throw new Error(`@tus/server created upload ${upload.id}, which no request announced`);
    const { caller, partial, lock } = creation.creator;
    const createdAt = upload.creation_date ? Date.parse(upload.creation_date) : undefined;
    creation.created = await this.uploads.create(
      { id: upload.id, size: upload.size, metadata: upload.metadata, caller, partial, createdAt },
      lock,
    );
    return upload;
  }

  /** @tus/server reads an upload back only right after creating it (for Upload-Expires): no round trip for that. */
  override async getUpload(id: string): Promise<Upload> {
    const created = this.pending.get(id)?.created;
    if (!created) throw new Error(`@tus/server read upload ${id}, which it did not just create`);
    return toUpload(created.record, created.offset, created.status);
  }

  override async write(): Promise<number> {
    throw new Error('bodies are appended by UploadStore.append, never through @tus/server');
  }

  override async remove(): Promise<void> {
    throw new Error('uploads are removed by UploadStore.remove, never through @tus/server');
  }

  override getExpiration(): number {
    return this.uploads.ttlMs;
  }

  /** @tus/server's cleanUpExpiredUploads: one sweep; returns the uploads removed. */
  override async deleteExpired(): Promise<number> {
    return this.sweep();
  }
}
