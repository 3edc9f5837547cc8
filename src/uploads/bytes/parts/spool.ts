import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A request body of unknown length (chunked, no Content-Length) cannot go to
 * an object store as it arrives: a part's (or block's) length must be sent first. Such a piece (at most
 * one part) is spooled to a file of this instance's UPLOAD_DIR, then sent
 * from it, and the file removed. It is never durable: until the store has it, the
 * offset does not count it, so a crash loses nothing the client was told.
 */
export type Spooled = Readonly<{ length: number; bytes(): Readable; remove(): Promise<void> }>;

export async function spool(source: Readable, dir: string): Promise<Spooled> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.part`);
  let length = 0;
  const remove = () => rm(file, { force: true });
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          length += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(file),
    );
  } catch (error) {
    await remove();
    throw error;
  }
  return { length, bytes: () => createReadStream(file), remove };
}
