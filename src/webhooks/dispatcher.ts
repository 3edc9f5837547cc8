import { randomInt } from 'node:crypto';
import type { WebhookConfig } from '../config/load-config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import { earlierLayouts, type Keys, type WebhookKeys } from '../redis/keys.js';
import { scanAll } from '../redis/scan.js';
import { wentToDeadLetters } from '../redis/script-replies.js';
import { signatureHeader } from './signature.js';

/** Deliveries in flight at once per instance; each one that ends makes room for the next at once. */
const IN_FLIGHT = 32;
/** ... and to one URL: a receiver that hangs holds at most this many, never the others' share. */
const IN_FLIGHT_PER_URL = 8;
const POLL_MS = 500;
const DEAD_LETTERS_KEPT = 10_000;

type Delivery = Readonly<{
  entryId: string;
  attempt: number;
  /** The outbox it is in. */
  outbox: WebhookKeys;
  /** The URL's queue in that outbox (see enqueue-webhooks-n.lua). */
  queue: string;
  url: string;
  key: string;
  type: string;
  body: string;
}>;
type Outcome = 'delivered' | 'failed' | 'dead';

/**
 * Delivers the outbox, on every instance at once: each takes the deliveries
 * that are due under a lease (a claim that runs out), POSTs them, and removes
 * each one that got a 2xx; any other answer, or none within the timeout,
 * schedules it again after an exponential backoff, up to the last attempt,
 * after which it goes to the dead-letter stream. A delivery whose instance
 * died is taken by another once its lease runs out. Delivery is at least
 * once: every attempt carries the event's idempotency key.
 */
export class WebhookDispatcher {
  private running: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inFlightTo = new Map<string, number>();
  private stopped = false;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  /** A wake-up that came while the loop was busy: its next idle returns at once. */
  private woken = false;
  private readonly leaseMs: number;
  /** The outboxes taken from: every bucket's, then those of earlier layouts (see findEarlierOutboxes). */
  private outboxes: readonly WebhookKeys[];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly config: WebhookConfig,
    private readonly logger: Logger,
    private readonly counted: (outcome: Outcome) => void = () => {},
  ) {
    // Long enough for one attempt and the writes around it.
    this.leaseMs = config.timeoutMs * 2 + 1000;
    this.outboxes = keys.outboxes;
  }

  start(): void {
    if (this.config.urls.length === 0 || this.running) return;
    this.running = this.loop();
    void this.findEarlierOutboxes().catch((error) =>
      this.logger.warn({ err: error }, 'could not look for the webhook outboxes of another bucket count'),
    );
  }

  /**
   * Outboxes of another bucket count (REDIS_BUCKETS changed, or one Redis
   * moved to a cluster) hold deliveries nothing else would send: found once
   * at start, in the background, and drained with the others.
   */
  private async findEarlierOutboxes(): Promise<void> {
    const earlier = earlierLayouts(this.keys.prefix);
    const known = new Set(this.outboxes.map((w) => w.outbox));
    const found: WebhookKeys[] = [];
    for await (const stream of scanAll(this.redis, earlier.outboxPattern)) {
      if (!known.has(stream)) found.push(earlier.outboxOf(stream));
      known.add(stream);
    }
    if (found.length > 0) this.outboxes = [...this.outboxes, ...found];
  }

  /** Looks at the outbox now rather than at the next poll (deliveries were just appended, or one ended). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops taking deliveries; those in flight are abandoned, and retried by any instance once their lease runs out. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake();
    await this.running;
    await Promise.all(this.inFlight);
  }

  /**
   * Keeps up to IN_FLIGHT deliveries going, each on its own: a receiver that
   * does not answer holds only its own deliveries, not those to the others.
   */
  private async loop(): Promise<void> {
    while (!this.stopped) {
      const room = IN_FLIGHT - this.inFlight.size;
      if (room > 0) {
        try {
          await this.takeDue(room);
        } catch (error) {
          if (!this.stopped) this.logger.warn({ err: error }, 'could not read the webhook outbox');
        }
      }
      // Until a delivery ends (room again), one is appended, or the poll, whichever comes first.
      if (!this.stopped) await this.idle(POLL_MS);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  /**
   * Leases up to `most` due deliveries from the outboxes (one per bucket),
   * taking from each URL no more than its share of IN_FLIGHT_PER_URL leaves
   * room for, and starts each. The queue sets of every outbox are read at once
   * (batched per master); only outboxes with queues are claimed from.
   */
  private async takeDue(most: number): Promise<void> {
    const outboxes = this.outboxes;
    const queueSets = await Promise.all(outboxes.map((w) => this.redis.smembers(w.queues)));
    let left = most;
    // In a random order, so that no outbox (and no queue in one) always goes first when the total is short.
    for (const at of shuffled(outboxes.map((_, i) => i))) {
      const w = outboxes[at] as WebhookKeys;
      const queues = shuffled(queueSets[at] ?? [])
        .map((queue) => ({ queue, room: IN_FLIGHT_PER_URL - (this.inFlightTo.get(urlOf(queue)) ?? 0) }))
        .filter(({ room }) => room > 0);
      if (queues.length === 0 || left <= 0) continue;
      const leased = await this.redis.claimWebhooks(
        3 + queues.length,
        w.outbox,
        w.attempts,
        w.queues,
        ...queues.map(({ queue }) => queue),
        Date.now(),
        this.leaseMs,
        left,
        ...queues.map(({ room }) => room),
      );
      left -= leased.length;
      for (const [entryId, attempts, flat, queue] of leased) this.launch(toDelivery(entryId, attempts, flat, w, queue));
    }
  }

  private launch(delivery: Delivery): void {
    const url = urlOf(delivery.queue);
    this.inFlightTo.set(url, (this.inFlightTo.get(url) ?? 0) + 1);
    const running = this.deliver(delivery).finally(() => {
      this.inFlight.delete(running);
      const left = (this.inFlightTo.get(url) ?? 1) - 1;
      if (left === 0) this.inFlightTo.delete(url);
      else this.inFlightTo.set(url, left);
      this.wake();
    });
    this.inFlight.add(running);
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const problem = await this.post(delivery);
    if (this.stopped) return;
    const w = delivery.outbox;
    const log = { url: delivery.url, key: delivery.key, event: delivery.type, attempt: delivery.attempt };
    try {
      if (problem === undefined) {
        await this.redis.finishWebhook(delivery.queue, w.outbox, w.attempts, delivery.entryId);
        this.counted('delivered');
        this.logger.debug(log, 'webhook delivered');
        return;
      }
      const c = this.config;
      const jitter = (0.8 + randomInt(0, 401) / 1000).toFixed(3);
      const delay = await this.redis.retryWebhook(
        delivery.queue,
        w.outbox,
        w.attempts,
        w.dead,
        delivery.entryId,
        Date.now(),
        c.maxAttempts,
        c.retryBaseMs,
        c.retryMaxMs,
        jitter,
        problem,
        DEAD_LETTERS_KEPT,
      );
      const dead = wentToDeadLetters(delay);
      this.counted(dead ? 'dead' : 'failed');
      if (dead) this.logger.error({ ...log, problem }, 'webhook given up after its last attempt');
      else this.logger.warn({ ...log, problem, retryInMs: delay }, 'webhook delivery failed; will retry');
    } catch (error) {
      // The lease runs out and the delivery is taken again.
      this.logger.warn({ ...log, err: error }, 'could not record a webhook delivery');
    }
  }

  /** POSTs one delivery; returns what went wrong, or undefined on a 2xx. */
  private async post(delivery: Delivery): Promise<string | undefined> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'tus-redis-server-webhooks',
      'Idempotency-Key': delivery.key,
      'Webhook-Id': delivery.key,
      'Webhook-Event': delivery.type,
      'Webhook-Attempt': String(delivery.attempt + 1),
    };
    if (this.config.secret) headers['Webhook-Signature'] = signatureHeader(this.config.secret, delivery.body);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers,
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.config.timeoutMs)]),
      });
      await response.body?.cancel().catch(() => {});
      return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      return e.name === 'TimeoutError' ? `no answer within ${this.config.timeoutMs} ms` : (e.cause?.code ?? e.message);
    }
  }
}

/** A URL's queues are named after it alike in every outbox (keys.ts): the name's end says which URL. */
const urlOf = (queue: string): string => queue.slice(queue.lastIndexOf(':due:'));

function toDelivery(entryId: string, attempt: number, flat: string[], outbox: WebhookKeys, queue: string): Delivery {
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
  return {
    entryId,
    attempt,
    outbox,
    queue,
    url: fields.get('url') ?? '',
    key: fields.get('key') ?? '',
    type: fields.get('type') ?? '',
    body: fields.get('body') ?? '',
  };
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
