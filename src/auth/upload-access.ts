import type { IncomingMessage } from 'node:http';
import type { OwnerLimits } from '../config/load-config.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { type AccessIntent, type Authorizer, accessDenied, type Caller } from './authorizer.js';

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

  /** Who a request is when nothing is checked about it (OPTIONS). */
  get anonymous(): Caller {
    return { owner: undefined, limits: this.defaults };
  }

  /** Whether requests are checked at all (an authorizer is configured). */
  get enabled(): boolean {
    return this.authorize !== undefined;
  }

  /** Authorizes `intent` on upload `uploadId` (none when creating); throws the 401/403/... to answer. */
  async check(req: IncomingMessage, intent: AccessIntent, uploadId?: string): Promise<Caller> {
    if (!this.authorize) return this.anonymous;
    const owner = uploadId ? await this.ownerOf(uploadId) : undefined;
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
    if (owner !== undefined && owner !== grant.owner) throw accessDenied(403, 'This upload belongs to another user');
    return { owner: grant.owner, limits: { ...this.defaults, ...grant.limits } };
  }

  /**
   * Authorizes `intent` on the uploads `membersOf(caller's owner)` names at
   * once (a group): the caller must own every one that has an owner.
   */
  async checkMembers(
    req: IncomingMessage,
    intent: AccessIntent,
    membersOf: (owner: string | undefined) => Promise<readonly string[]>,
  ): Promise<Caller> {
    const caller = await this.check(req, intent);
    if (!this.authorize) return caller;
    const owners = await Promise.all((await membersOf(caller.owner)).map((id) => this.ownerOf(id)));
    if (owners.some((o) => o !== undefined && o !== caller.owner)) {
      throw accessDenied(403, 'These uploads belong to another user');
    }
    return caller;
  }

  private async ownerOf(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.forUpload(id).upload, 'owner')) ?? undefined;
  }
}
