import { beforeAll } from 'vitest';
import { describeStoreContract } from '../contract/store-contract.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';

let storage: S3Storage;
beforeAll(async () => {
  storage = await s3Storage();
});

describeStoreContract('the S3 byte store (OpenStack Swift s3api)', () => storage.env(), 5 * 1024 * 1024);
