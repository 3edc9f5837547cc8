import { createHash, type Hash } from 'node:crypto';
import { appError } from '../../errors/app-error.js';

/**
 * tus checksum extension: "The Server MUST support at least the SHA1 checksum
 * algorithm identified by sha1." Names are lowercase, as the spec requires.
 */
export const CHECKSUM_ALGORITHMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

export type ChecksumExpectation = Readonly<{ algorithm: ChecksumAlgorithm; digest: Buffer }>;

/**
 * Parses `Upload-Checksum: <algorithm> <base64 digest>`. tus: "400 Bad Request
 * if the checksum algorithm is not supported by the server".
 */
export function parseUploadChecksum(header: string): ChecksumExpectation {
  const match = /^([a-z0-9-]+) ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
  if (!match) {
    throw appError('INVALID_CHECKSUM_HEADER');
  }
  const [, name, base64] = match as unknown as [string, string, string];
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(name)) {
    throw appError('UNSUPPORTED_CHECKSUM_ALGORITHM', { name, supported: CHECKSUM_ALGORITHMS });
  }
  const algorithm = name as ChecksumAlgorithm;
  const digest = Buffer.from(base64, 'base64');
  if (digest.length !== DIGEST_BYTES[algorithm]) {
    throw appError('INVALID_CHECKSUM_LENGTH', { algorithm, bytes: DIGEST_BYTES[algorithm] });
  }
  return { algorithm, digest };
}

export function checksumHash(expectation: ChecksumExpectation): Hash {
  return createHash(expectation.algorithm);
}
