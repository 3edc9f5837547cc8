import { createHash, type Hash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * `size` random bytes made 64 KiB at a time as the stream is read, never held
 * whole. Each chunk also goes into `whole` (a running hash over several
 * streams); `md5()` is this stream's MD5 once it has ended.
 */
export function randomStream(size: number, whole?: Hash): { stream: Readable; md5(): string } {
  const md5 = createHash('md5');
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(left, 64 * 1024));
      left -= chunk.length;
      md5.update(chunk);
      whole?.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, md5: () => md5.copy().digest('hex') };
}

export const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/** The ETag S3 gives a completed multipart upload: MD5 of the parts' binary MD5s, dash, part count. */
export const multipartEtag = (partMd5s: string[]) =>
  `"${createHash('md5')
    .update(Buffer.concat(partMd5s.map((h) => Buffer.from(h, 'hex'))))
    .digest('hex')}-${partMd5s.length}"`;
