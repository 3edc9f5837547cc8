import { z } from 'zod';
import { integer, milliseconds, optional, required, text } from './setting-types.js';

/** The settings of the Redis that keeps upload state (the configuration's `redis` group). */
export const REDIS_SETTINGS = {
  url: optional(
    'REDIS_URL',
    text(
      z
        .string()
        .trim()
        .refine(
          (v) => /^rediss?(\+cluster)?:\/\/.+/.test(v),
          'must be a redis://, rediss:// or redis+cluster://host:port,host:port URL',
        ),
      'URL',
    ),
    'Redis to keep upload state in (redis+cluster://host:port,host:port for a Redis Cluster). Unset: use 127.0.0.1:6379 if it answers, else start a local redis-server',
  ),
  buckets: optional(
    'REDIS_BUCKETS',
    integer(1, 1024),
    'How many buckets (hash tags) uploads are spread over; every instance sharing a Redis must use the same count, and `npm run migrate-redis` moves the keys when it changes. Unset: 64 on a Redis Cluster (even over 3 to 32 masters), 1 on one Redis',
  ),
  keyPrefix: required(
    'REDIS_KEY_PREFIX',
    text(z.string().regex(/^[^{}\s]*$/, "must not contain braces or spaces (they would break the keys' hash tags)")),
    '',
    'Prefix of every Redis key this server writes',
  ),
  commandTimeoutMs: required(
    'REDIS_COMMAND_TIMEOUT_MS',
    milliseconds(50, 60_000),
    '2000',
    'A Redis command unanswered after this long fails the request with 503',
  ),
};
