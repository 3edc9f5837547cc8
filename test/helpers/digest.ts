import { createHash } from 'node:crypto';

/** Hex SHA-256 of some bytes: what the server records for a completed upload. */
export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
