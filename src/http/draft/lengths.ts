import { appError } from '../../errors/app-error.js';

type Lengths = Readonly<{
  /** Upload-Length of the request (-05: "the server MUST record its value as the upload's final size"). */
  declared: number | undefined;
  /** Content-Length of a request that completes the upload: the final size is then offset + it. */
  contentLength: number | undefined;
  /** Where the request's content starts. */
  offset?: number;
  /** The final size recorded before. */
  recorded?: number;
}>;

/**
 * The upload's final size after this request, from everything that speaks of
 * it. They must agree (-05: "If the request includes both [...] and they are
 * inconsistent, the server MUST respond with a 400"; -02: a completing append
 * whose size "does not match the previously recorded" one "MUST" be refused).
 */
export function finalSize({ declared, contentLength, offset = 0, recorded }: Lengths): number | undefined {
  const implied = contentLength === undefined ? undefined : offset + contentLength;
  if (recorded !== undefined && declared !== undefined && declared !== recorded) {
    throw inconsistent(`Upload-Length says ${declared} bytes, but this upload's final size is ${recorded} bytes`);
  }
  const size = recorded ?? declared;
  if (size !== undefined && implied !== undefined && implied !== size) {
    throw inconsistent(
      `This request completes the upload with ${contentLength} bytes from offset ${offset}, which makes ${implied}, but its final size is ${size} bytes`,
    );
  }
  const final = size ?? implied;
  if (final !== undefined && final < offset) {
    throw inconsistent(`Upload-Length says ${final} bytes, fewer than the ${offset} already received`);
  }
  return final;
}

const inconsistent = (detail: string) => appError('LENGTH_INCONSISTENT', { detail });
