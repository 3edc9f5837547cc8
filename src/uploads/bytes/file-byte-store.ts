import { mkdirSync } from 'node:fs';
import { opendir, stat, statfs, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { ERRORS, type KvStore, Upload } from '@tus/utils';
import { appError } from '../../errors/app-error.js';
import { isUploadId } from '../model/upload-id.js';
import type { ByteStore } from './byte-store.js';

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

/** Bytes in files named by upload ID in one directory, written by @tus/file-store. */
export function createFileByteStore(directory: string): ByteStore {
  // FileStore's constructor starts a mkdir it never awaits; make the directory first.
  mkdirSync(directory, { recursive: true });
  const files = new FileStore({ directory, configstore: noRecords });
  const filePath = (id: string) => {
    if (!isUploadId(id)) throw appError('UPLOAD_NOT_FOUND');
    return path.join(directory, id);
  };
  return {
    async create(id) {
      filePath(id);
      await files.create(new Upload({ id, offset: 0 }));
    },
    async write(stream, id, offset) {
      try {
        return await files.write(stream, id, offset);
      } catch (error) {
        // FileStore reports every write failure as FILE_WRITE_ERROR; a full disk deserves its own answer.
        if (error === ERRORS.FILE_WRITE_ERROR && (await isNearlyFull(directory))) throw appError('STORAGE_FULL');
        throw error;
      }
    },
    read(id) {
      filePath(id);
      return files.read(id);
    },
    truncate: (id, length) => truncate(filePath(id), length),
    localPath: filePath,
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
