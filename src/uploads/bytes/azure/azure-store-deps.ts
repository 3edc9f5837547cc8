import type { Logger } from '../../../log.js';
import type { ByteStates } from '../parts/byte-state.js';
import type { AzureContainer } from './azure-container.js';

/** What the Azure byte store and its parts (seal, concatenation, blobs) work with. */
export type AzureByteStoreDeps = Readonly<{
  container: AzureContainer;
  states: ByteStates;
  /** The upload's declared size, read from its record (undefined while deferred). */
  sizeOf: (id: string) => Promise<number | undefined>;
  /** Where a body of unknown length is spooled, one block at a time. */
  spoolDir: string;
  logger: Logger;
}>;
