import type { IncomingMessage } from 'node:http';
import type { OwnerLimits } from '../config.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { type AccessIntent, type Authorizer, accessDenied, type Caller } from './types.js';

/**
 * The one place requests are authorized: every route that touches an upload
 * (tus create, HEAD, PATCH, DELETE, GET, and progress, missing, events)
 * asks here first, before any byte is read. The authorizer says who the
 * caller is; this enforces that it is the owner recorded at creation.
 */
export class UploadAccess {
  constructor(
    private readonly authorize: Authorizer | undefined,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly defaults: OwnerLimits,
  ) {}

  /** Whether requests are checked at all (an authorizer is configured). */
  get enabled(): boolean {
    return this.authorize !== undefined;
  }

  /** Authorizes `intent` on upload `uploadId` (none when creating); throws the 401/403/... to answer. */
  async check(req: IncomingMessage, intent: AccessIntent, uploadId?: string): Promise<Caller> {
    if (!this.authorize) return { owner: undefined, limits: this.defaults };
    const owner = uploadId ? await this.ownerOf(uploadId) : undefined;
    return this.checkOwners(req, intent, owner === undefined ? [] : [owner], uploadId, owner);
  }

  /** Authorizes `intent` on several uploads at once (a group): the caller must own every one that has an owner. */
  async checkOwners(
    req: IncomingMessage,
    intent: AccessIntent,
    owners: readonly (string | undefined)[],
    uploadId?: string,
    owner?: string,
  ): Promise<Caller> {
    if (!this.authorize) return { owner: undefined, limits: this.defaults };
    const grant = await this.authorize({
      intent,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      uploadId,
      owner,
      subject: undefined,
    });
    // "The owner recorded at creation is enforced on every later request."
    if (owners.some((o) => o !== undefined && o !== grant.owner)) {
      throw accessDenied(
        403,
        uploadId ? 'This upload belongs to another user' : 'These uploads belong to another user',
      );
    }
    return { owner: grant.owner, limits: { ...this.defaults, ...grant.limits } };
  }

  /** The owners of several uploads (undefined for one without an owner, or gone). */
  async ownersOf(ids: readonly string[]): Promise<(string | undefined)[]> {
    if (!this.authorize) return [];
    return Promise.all(ids.map((id) => this.ownerOf(id)));
  }

  private async ownerOf(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.forUpload(id).upload, 'owner')) ?? undefined;
  }
}
