import { beforeAll } from 'vitest';
import { describeStoreContract } from '../contract/store-contract.js';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';

let storage: AzureStorage;
beforeAll(async () => {
  storage = await azureStorage();
});

describeStoreContract('the Azure byte store (Azurite)', () => storage.env());
