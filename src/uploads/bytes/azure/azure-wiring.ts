import type { Logger } from '../../../log.js';
import type { RedisClient } from '../../../redis/client.js';
import type { Keys } from '../../../redis/keys.js';
import type { StorageTraffic } from '../byte-store.js';
import { ByteStates } from '../parts/byte-state.js';
import { AzureByteStore } from './azure-byte-store.js';
import { type AzureSettings, createAzureClients } from './azure-client.js';
import { AzureContainer } from './azure-container.js';

export type AzureWiring = Readonly<{
  settings: AzureSettings;
  redis: RedisClient;
  keys: Keys;
  /** The upload's declared size, read from its record (undefined while deferred). */
  sizeOf: (id: string) => Promise<number | undefined>;
  spoolDir: string;
  logger: Logger;
  traffic: StorageTraffic;
}>;

/** The Azure byte store with its clients, container and recorded state (imported only with STORAGE=azure). */
export function createAzureByteStore({ settings, redis, keys, sizeOf, spoolDir, logger, traffic }: AzureWiring) {
  return new AzureByteStore({
    container: new AzureContainer(createAzureClients(settings), settings, logger, traffic),
    states: new ByteStates(redis, keys),
    sizeOf,
    spoolDir,
    logger,
  });
}
