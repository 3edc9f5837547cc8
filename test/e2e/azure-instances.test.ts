import { randomBytes } from 'node:crypto';
import {
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { keysFor } from '../../src/redis/keys.js';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { type Azurite, startAzurite } from '../helpers/azurite.js';
import { sha256 } from '../helpers/digest.js';
import { offsetOn, patchOn, runUntilExit, sharedEnv, timedPatch, tusUpload } from '../helpers/instances.js';
import { openPatch } from '../helpers/raw-patch.js';
import { createUploadOn, killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
/** The block grid of these tests: Azure takes blocks of any size, so one smaller than S3's 5 MiB part. */
const BLOCK = MiB;

let storage: AzureStorage;
let redis: Redis;
beforeAll(async () => {
  storage = await azureStorage();
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
afterEach(() => killAllServerProcesses());

/** Instances sharing Redis and one blob prefix of `on`'s container, on a 1 MiB block grid; the prefix too. */
function instances(on: AzureStorage, extra: Record<string, string> = {}) {
  const store = on.env();
  const env = sharedEnv({ ...store, CHUNK_SIZE_BYTES: String(BLOCK) }, extra);
  const keys = keysFor({ keyPrefix: env().REDIS_KEY_PREFIX as string });
  return { env, prefix: store.AZURE_BLOB_PREFIX as string, record: (id: string) => keys.forUpload(id).upload };
}

describe('Azure across instances (no shared disk)', () => {
  it('PATCHes of one upload landing on two instances in turn, tails included, make one byte-identical blob', async () => {
    const { env, prefix, record } = instances(storage);
    const [a, b] = await Promise.all([startServerProcess(env()), startServerProcess(env())]);
    const data = randomBytes(3 * BLOCK + 333);
    const { path: pathname, id } = await createUploadOn(a, data.length);
    // A tail (600 KiB) the other instance must read back from Azure to finish block 1, a tail of 7 bytes, then
    // block 2's rest and the last two blocks: no instance holds on disk what another one needs.
    const cuts = [0, 600 * 1024, BLOCK + 7, 2 * BLOCK, data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      expect(await patchOn(writer, pathname, cuts[i] as number, data.subarray(cuts[i], cuts[i + 1]))).toBe(204);
      expect(await offsetOn(reader, pathname)).toEqual({ status: 200, offset: cuts[i + 1] });
    }
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    // Computed from a re-read of the blob, since no one instance saw every byte.
    expect(await redis.hget(record(id), 'sha256')).toBe(sha256(data));
    // The tails went into the blob and were removed; no staged block was left out of it.
    expect(await storage.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
  });

  it('kill -9 mid-PATCH: the other instance answers HEAD at what Azure holds, and the upload resumes byte-identical', async () => {
    const { env, prefix, record } = instances(storage);
    const [a, b] = await Promise.all([startServerProcess(env()), startServerProcess(env())]);
    const data = randomBytes(3 * BLOCK);
    const { path: pathname, id } = await createUploadOn(a, data.length);
    const patch = openPatch(a.url, pathname, 0, data.length);
    await patch.write(data.subarray(0, BLOCK + BLOCK / 2));
    await waitFor(async () => Number(await redis.hget(record(id), 'offset')) >= BLOCK, {
      what: 'block 1 to be recorded',
    });
    await a.kill();
    const head = await waitFor(
      async () => {
        const h = await offsetOn(b, pathname);
        return h.status === 200 ? h : undefined;
      },
      { what: 'HEAD on the other instance', timeoutMs: 20_000 },
    );
    // Only the block Azure acknowledged counts, not the half of block 2 that was on its way.
    expect(head.offset).toBe(BLOCK);
    await tusUpload(data, { uploadUrl: `${b.url}${pathname}`, retryDelays: [200, 500, 1000, 2000] });
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await redis.hgetall(record(id))).toMatchObject({
      status: 'completed',
      receivedChunks: '3',
      totalChunks: '3',
      sha256: sha256(data),
    });
    expect(await storage.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
  });
});

describe('Azure stops answering (an Azurite of its own, SIGSTOPped)', () => {
  const TIMEOUT_MS = 1500;
  let azurite: Azurite;
  let own: AzureStorage;
  beforeAll(async () => {
    azurite = await startAzurite();
    own = await azureStorage(azurite);
  });
  afterAll(async () => {
    azurite.resume();
    await azurite.stop();
  });

  it('a PATCH gets 503 with Retry-After within AZURE_REQUEST_TIMEOUT_MS; HEAD answers from Redis; after SIGCONT the upload completes', async () => {
    const { env, prefix } = instances(own, { AZURE_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
    const server = await startServerProcess(env());
    const data = randomBytes(2 * BLOCK);
    const { path: pathname, id } = await createUploadOn(server, data.length);
    expect(await patchOn(server, pathname, 0, data.subarray(0, BLOCK))).toBe(204);
    await azurite.pause();
    try {
      const { res, took } = await timedPatch(server, pathname, BLOCK, data.subarray(BLOCK));
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('x-error-code')).toBe('STORAGE_UNAVAILABLE');
      // The timeout, and room for a loaded machine: nowhere near a wait without end.
      expect(took).toBeLessThan(TIMEOUT_MS + 4000);
      // HEAD needs no Azure: it answers at once, with what Azure acknowledged.
      const headStarted = Date.now();
      expect(await offsetOn(server, pathname)).toEqual({ status: 200, offset: BLOCK });
      expect(Date.now() - headStarted).toBeLessThan(1000);
    } finally {
      azurite.resume();
    }
    expect(await patchOn(server, pathname, BLOCK, data.subarray(BLOCK))).toBe(204);
    expect(sha256(await own.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await own.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
  });
});

/** A container SAS for `container` signed with `key`: what an operator pastes into AZURE_STORAGE_SAS_TOKEN. */
function containerSas(container: string, key: string): string {
  const { account } = inject('azure');
  return generateBlobSASQueryParameters(
    {
      containerName: container,
      permissions: ContainerSASPermissions.parse('racwdl'),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(account, key),
  ).toString();
}

describe('start-up', () => {
  /** Exits 2 with what the operator must fix on stderr: no stack trace, and none of `secrets` anywhere in the output. */
  async function expectRefusal(env: Record<string, string>, message: string, secrets: string[]) {
    const { code, stdout, stderr } = await runUntilExit({
      REDIS_URL: inject('redisUrl'),
      PORT: '0',
      // Every log line the server has, so that a secret in any of them would show.
      LOG_LEVEL: 'trace',
      ...env,
    });
    expect(code, stdout + stderr).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
    for (const secret of secrets) {
      expect(stdout).not.toContain(secret);
      expect(stderr).not.toContain(secret);
    }
  }

  const azure = inject('azure');
  const wrongKey = randomBytes(64).toString('base64');

  it('exits 2 naming the container and the endpoint when the container does not exist', async () => {
    const missing = `missing-${randomBytes(4).toString('hex')}`;
    await expectRefusal(
      { ...storage.env(), AZURE_CONTAINER: missing },
      `AZURE_CONTAINER: cannot write to container "${missing}" at ${azure.endpoint}`,
      [azure.accountKey],
    );
  });

  it('exits 2 naming the container and the endpoint when the key is wrong, and never shows the key', async () => {
    await expectRefusal(
      { ...storage.env(), AZURE_STORAGE_KEY: wrongKey },
      `AZURE_CONTAINER: cannot write to container "${storage.container}" at ${azure.endpoint}`,
      [wrongKey],
    );
  });

  it('exits 2 naming the container and the endpoint when the SAS is not signed by the account, and never shows it', async () => {
    const sas = containerSas(storage.container, wrongKey);
    const { AZURE_STORAGE_KEY: _key, ...withoutKey } = storage.env();
    await expectRefusal(
      { ...withoutKey, AZURE_STORAGE_SAS_TOKEN: sas },
      `AZURE_CONTAINER: cannot write to container "${storage.container}" at ${azure.endpoint}`,
      [sas, new URLSearchParams(sas).get('sig') as string],
    );
  });

  const badSettings: Array<{ case: string; env: () => Record<string, string>; message: string }> = [
    {
      case: 'STORAGE=azure without AZURE_CONTAINER',
      env: () => ({ ...storage.env(), AZURE_CONTAINER: '' }),
      message: 'AZURE_CONTAINER: required with STORAGE=azure',
    },
    {
      case: 'both AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN',
      env: () => ({ ...storage.env(), AZURE_STORAGE_SAS_TOKEN: containerSas(storage.container, azure.accountKey) }),
      message: 'AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN: set one of them, not both',
    },
    {
      case: 'neither AZURE_STORAGE_KEY nor AZURE_STORAGE_SAS_TOKEN',
      env: () => ({ ...storage.env(), AZURE_STORAGE_KEY: '' }),
      message: 'AZURE_STORAGE_KEY: required with STORAGE=azure (or set AZURE_STORAGE_SAS_TOKEN)',
    },
    {
      case: 'a key that is not base64',
      env: () => ({ ...storage.env(), AZURE_STORAGE_KEY: `${azure.accountKey}!` }),
      message: 'AZURE_STORAGE_KEY: must be an account key as Azure shows it (base64) (the value is not shown',
    },
    {
      case: 'a connection string and an account key',
      env: () => ({ ...storage.env(), AZURE_STORAGE_CONNECTION_STRING: azure.connectionString }),
      message:
        'AZURE_STORAGE_CONNECTION_STRING: already names the account; unset AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_BLOB_ENDPOINT',
    },
  ];
  it.each(badSettings)('exits 2 naming the setting for $case, and never shows the key', async ({ env, message }) => {
    const settings = env();
    const secrets = [settings.AZURE_STORAGE_KEY, settings.AZURE_STORAGE_SAS_TOKEN].filter((s): s is string => !!s);
    await expectRefusal(settings, message, secrets.length > 0 ? secrets : [azure.accountKey]);
  });
});
