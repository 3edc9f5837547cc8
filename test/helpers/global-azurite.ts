import type { TestProject } from 'vitest/node';
import { type AzureCredentials, startAzurite } from './azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Azurite (Blob service only): its endpoint ends with the account, as Azure's path-style URLs do. */
    azure: AzureCredentials;
  }
}

/**
 * One Azurite for the whole run. Tests isolate themselves by container name.
 * If it cannot start, the run fails: no test skips for want of Azure.
 */
export default async function setup(project: TestProject) {
  const azurite = await startAzurite();
  const { endpoint, account, accountKey, connectionString } = azurite;
  project.provide('azure', { endpoint, account, accountKey, connectionString });
  return () => azurite.stop();
}
