import type { Readable } from 'node:stream';
import type { ByteStore, FetchConditions, PartialBytes, WriteOptions } from './byte-store.js';

/**
 * An object store's byte store (S3, Azure), loaded when the uploads start:
 * its code, and its SDK's (the AWS SDK: ~380 ms to import), are read only by
 * a server whose STORAGE names it. Every method but `location` is called
 * after `start` (wireUploads starts the byte store before anything is
 * served); one called before says so.
 */
export class DeferredByteStore implements ByteStore {
  private store: ByteStore | undefined;

  constructor(
    readonly limits: ByteStore['limits'],
    private readonly load: () => Promise<ByteStore>,
    /** Where upload `id`'s object is, as `location` names it (`s3://<bucket>/<key>`, a blob's URL). */
    private readonly where: (id: string) => string,
  ) {}

  async start(): Promise<void> {
    this.store ??= await this.load();
    await this.store.start?.();
  }

  private get loaded(): ByteStore {
    if (!this.store) throw new Error('the byte store was used before it started');
    return this.store;
  }

  create(id: string, options: { chunkSize: number }) {
    return this.loaded.create(id, options);
  }
  write(stream: Readable, id: string, offset: number, options?: WriteOptions) {
    return this.loaded.write(stream, id, offset, options);
  }
  stage(stream: Readable, id: string, offset: number, options?: WriteOptions) {
    return this.loaded.stage(stream, id, offset, options);
  }
  seal(id: string) {
    return this.loaded.seal(id);
  }
  read(id: string) {
    return this.loaded.read(id);
  }
  fetch(id: string, conditions: FetchConditions) {
    return (this.loaded.fetch as NonNullable<ByteStore['fetch']>)(id, conditions);
  }
  concatenate(id: string, partials: readonly PartialBytes[], recorded: (end: number) => Promise<void>) {
    return (this.loaded.concatenate as NonNullable<ByteStore['concatenate']>)(id, partials, recorded);
  }
  truncate(id: string, length: number) {
    return this.loaded.truncate(id, length);
  }
  remove(id: string) {
    return this.loaded.remove(id);
  }
  bytesStored(id: string) {
    return this.loaded.bytesStored(id);
  }
  list() {
    return this.loaded.list();
  }
  location(id: string) {
    return this.where(id);
  }
  probe() {
    return this.loaded.probe();
  }
}
