import { randomUUID } from 'node:crypto';
import { close, open, writev } from 'node:fs';
import { mkdir, opendir, stat, statfs, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { ERRORS, type KvStore, type Upload } from '@tus/utils';
import { appError } from '../../errors/app-error.js';
import { DEFAULT_GRID } from '../model/chunk-grid.js';
import { isUploadId } from '../model/upload-id.js';
import type { ByteSink, ByteStore } from './byte-store.js';

/**
 * FileStore keeps a JSON record beside each file unless given a configstore.
 * Ours keeps nothing: the upload's record is its Redis hash, and two copies
 * of the same facts could only disagree.
 */
const noRecords: KvStore<Upload> = {
  get: async () => undefined,
  set: async () => {},
  delete: async () => {},
  list: async () => [],
};

async function isNearlyFull(directory: string): Promise<boolean> {
  const fs = await statfs(directory).catch(() => undefined);
  return fs !== undefined && fs.bavail * fs.bsize < 1024 * 1024;
}

/** Whether a file can be written in `dir` now; the probe file never outlives the probe, even on a full disk. */
async function probeDirectory(dir: string): Promise<string> {
  const probe = path.join(dir, `.readyz-${randomUUID()}`);
  try {
    await writeFile(probe, 'ok');
    return 'ok';
  } catch (error) {
    return `not writable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  } finally {
    await unlink(probe).catch(() => {});
  }
}

/** An empty file at `file` (truncated if it is there). */
function createEmpty(file: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    open(file, 'w', (error, fd) => (error ? reject(error) : close(fd, () => resolve())));
  });
}

/**
 * One upload's file open for writing: each batch is one writev at its
 * position (repeated for the rest if the kernel takes fewer bytes). A full
 * disk is STORAGE_FULL; any other failure is @tus/utils' write error, as
 * FileStore reports it.
 */
function openSink(file: string): Promise<ByteSink> {
  const failed = (error: NodeJS.ErrnoException) =>
    error.code === 'ENOSPC' || error.code === 'EDQUOT' ? appError('STORAGE_FULL') : ERRORS.FILE_WRITE_ERROR;
  return new Promise((resolve, reject) => {
    open(file, 'r+', (error, fd) => {
      if (error) return reject(error.code === 'ENOENT' ? appError('UPLOAD_GONE') : failed(error));
      const writeAll = (buffers: readonly Buffer[], position: number, length: number, done: (e?: unknown) => void) => {
        writev(fd, buffers as Buffer[], position, (e, written) => {
          if (e) return done(failed(e));
          if (written === length) return done();
          // A short write: the rest, from where the kernel stopped.
          const rest = Buffer.concat(buffers as Buffer[]).subarray(written);
          writeAll([rest], position + written, length - written, done);
        });
      };
      resolve({
        write: (buffers, position, length) =>
          new Promise<void>((done, fail) => writeAll(buffers, position, length, (e) => (e ? fail(e) : done()))),
        close: () => new Promise<void>((done) => close(fd, () => done())),
      });
    });
  });
}

/** Bytes in files named by upload ID in one directory, written by @tus/file-store. */
export function createFileByteStore(directory: string): ByteStore {
  // FileStore's constructor starts a mkdir whose failure it throws from a callback, ending the process with a
  // stack. So it is made at first use, after `start` has made the directory or said, with its path, why not.
  let fileStore: FileStore | undefined;
  const files = () => {
    fileStore ??= new FileStore({ directory, configstore: noRecords });
    return fileStore;
  };
  const filePath = (id: string) => {
    if (!isUploadId(id)) throw appError('UPLOAD_NOT_FOUND');
    return path.join(directory, id);
  };
  const write: ByteStore['write'] = async (stream, id, offset) => {
    try {
      return await files().write(stream, id, offset);
    } catch (error) {
      // FileStore reports every write failure as FILE_WRITE_ERROR; a full disk deserves its own answer.
      if (error === ERRORS.FILE_WRITE_ERROR && (await isNearlyFull(directory))) throw appError('STORAGE_FULL');
      throw error;
    }
  };
  return {
    limits: DEFAULT_GRID,
    // An empty file, as FileStore.create makes it, with its mkdir only when the directory made at start is gone.
    create: (id) =>
      createEmpty(filePath(id)).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        await mkdir(directory, { recursive: true });
        await createEmpty(filePath(id));
      }),
    write,
    open: (id) => openSink(filePath(id)),
    // On disk at once; taking the bytes back is cutting the file (the record's unverifiedFrom covers a crash).
    async stage(stream, id, offset) {
      const end = await write(stream, id, offset);
      return { end, commit: async () => {}, discard: () => truncate(filePath(id), offset) };
    },
    seal: async () => {},
    read(id) {
      filePath(id);
      return files().read(id);
    },
    async truncate(id, length) {
      await truncate(filePath(id), length);
      return length;
    },
    localPath: filePath,
    location: filePath,
    probe: () => probeDirectory(directory),
    async start() {
      const problem = await mkdir(directory, { recursive: true }).then(
        () => probeDirectory(directory),
        (error: NodeJS.ErrnoException) => `cannot be made: ${error.code ?? error.message}`,
      );
      if (problem !== 'ok') throw new Error(`UPLOAD_DIR: ${directory}: ${problem}`);
    },
    // Not FileStore.remove: it reports every failure (EACCES, EIO, ...) as
    // "not found", and a caller would then forget bytes that are still there.
    async remove(id) {
      try {
        await unlink(filePath(id));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },
    async *list() {
      for await (const entry of await opendir(directory)) {
        if (!entry.isFile() || !isUploadId(entry.name)) continue;
        const stats = await stat(path.join(directory, entry.name)).catch(() => undefined);
        if (stats) yield { id: entry.name, modifiedAt: stats.mtimeMs };
      }
    },
    async bytesStored(id) {
      try {
        const stats = await stat(filePath(id));
        return stats.isFile() ? stats.size : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}
