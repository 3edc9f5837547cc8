import type { IncomingMessage } from 'node:http';
import { type Readable, Transform } from 'node:stream';
import { appError } from '../../errors/app-error.js';

/**
 * The content of one draft request, as the store reads it. It can be let go
 * of (`release`, when another request takes the upload over): the store then
 * sees a clean end and records what it stored, while the request itself stays
 * open. The request is never destroyed from here; a client that goes away
 * ends the stream with an error, as it would @tus/server's.
 */
export class DraftBody {
  private stream: Transform | undefined;
  private released = false;
  private overflow = false;

  constructor(private readonly req: IncomingMessage) {}

  /**
   * Starts reading: at most `room` bytes. Content past them is not read: the
   * stream ends after the bytes that fit, and `overflowed` says so.
   */
  open(room: number): Readable {
    const { req } = this;
    let left = room;
    const stream = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        if (chunk.length <= left) {
          left -= chunk.length;
          return done(null, chunk);
        }
        this.overflow = true;
        done(null, chunk.subarray(0, left));
        left = 0;
        req.unpipe(stream);
        stream.end();
      },
    });
    this.stream = stream;
    if (this.released) return stream.end();
    // A client that went away: as for tus, a cancelled request, not a failure of the server's.
    const gone = () => {
      if (!req.complete && !this.released) stream.destroy(appError('REQUEST_CANCELLED'));
    };
    // It may have gone already, while the upload was being created or locked: its 'close' is past.
    if (req.destroyed) {
      gone();
      return stream;
    }
    req.once('close', gone);
    req.pipe(stream);
    return stream;
  }

  /** Whether the content went on past the room it had. */
  get overflowed(): boolean {
    return this.overflow;
  }

  /** Whether the body was let go of before it ended. */
  get wasReleased(): boolean {
    return this.released;
  }

  /** Stops reading: the store sees the end of what came so far. */
  release(): void {
    if (this.released || this.req.complete) return;
    this.released = true;
    if (!this.stream) return;
    this.req.unpipe(this.stream);
    this.stream.end();
  }
}

/** Whether a request has content (Content-Length above 0, or a chunked body). */
export const hasContent = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
