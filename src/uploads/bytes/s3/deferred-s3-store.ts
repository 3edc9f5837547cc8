import type { Readable } from 'node:stream';
import type { ByteStore, FetchConditions, PartialBytes, WriteOptions } from '../byte-store.js';
import { S3_LIMITS } from './s3-limits.js';

/**
 * The S3 byte store, loaded when the uploads start: its code, and the AWS
 * SDK's (~380 ms to import), are read only by a server with STORAGE=s3. Every
 * method but `location` is called after `start` (wireUploads starts the byte
 * store before anything is served); one called before says so.
 */
export class DeferredS3Store implements ByteStore {
  readonly limits = S3_LIMITS;
  private store: ByteStore | undefined;

  constructor(
    private readonly load: () => Promise<ByteStore>,
    /** Where upload `id`'s object is, as `location` names it (`s3://<bucket>/<key>`). */
    private readonly where: (id: string) => string,
  ) {}

  async start(): Promise<void> {
    this.store ??= await this.load();
    await this.store.start?.();
  }

  private get s3(): ByteStore {
    if (!this.store) throw new Error('the S3 byte store was used before it started');
    return this.store;
  }

  create(id: string, options: { chunkSize: number }) {
    return this.s3.create(id, options);
  }
  write(stream: Readable, id: string, offset: number, options?: WriteOptions) {
    return this.s3.write(stream, id, offset, options);
  }
  stage(stream: Readable, id: string, offset: number, options?: WriteOptions) {
    return this.s3.stage(stream, id, offset, options);
  }
  seal(id: string) {
    return this.s3.seal(id);
  }
  read(id: string) {
    return this.s3.read(id);
  }
  fetch(id: string, conditions: FetchConditions) {
    return (this.s3.fetch as NonNullable<ByteStore['fetch']>)(id, conditions);
  }
  concatenate(id: string, partials: readonly PartialBytes[], recorded: (end: number) => Promise<void>) {
    return (this.s3.concatenate as NonNullable<ByteStore['concatenate']>)(id, partials, recorded);
  }
  truncate(id: string, length: number) {
    return this.s3.truncate(id, length);
  }
  remove(id: string) {
    return this.s3.remove(id);
  }
  bytesStored(id: string) {
    return this.s3.bytesStored(id);
  }
  list() {
    return this.s3.list();
  }
  location(id: string) {
    return this.where(id);
  }
  probe() {
    return this.s3.probe();
  }
}
