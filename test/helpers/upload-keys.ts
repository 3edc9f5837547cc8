import { keysFor } from '../../src/redis/keys.js';

/** The Redis keys of upload `id` as a server with key prefix `prefix` on one Redis names them (src/redis/keys.ts). */
export const keysOfUpload = (prefix: string, id: string) => keysFor({ keyPrefix: prefix }).forUpload(id);

/** The Redis key of upload `id`'s lock, likewise. */
export const lockOfUpload = (prefix: string, id: string) => keysFor({ keyPrefix: prefix }).lock(id);
