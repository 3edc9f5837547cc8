import {
  AnonymousCredential,
  BlobServiceClient,
  type ContainerClient,
  newPipeline,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { appError } from '../../../errors/app-error.js';
import type { Logger } from '../../../log.js';

export type AzureSettings = Readonly<{
  container: string;
  /** One way in: a connection string, or an account with its key or a SAS token. */
  connectionString: string | undefined;
  account: string | undefined;
  accountKey: string | undefined;
  sasToken: string | undefined;
  /** The Blob service's URL (Azurite, a sovereign cloud); undefined: https://<account>.blob.core.windows.net. */
  endpoint: string | undefined;
  /** Every blob name this server writes starts with it. */
  blobPrefix: string;
  /** Bounds a whole call, the SDK's retries included (a streamed block: each wait on Azure). */
  requestTimeoutMs: number;
}>;

/** The container, as two clients: one that retries (every call), one that never does (a streamed body is read once). */
export type AzureClients = Readonly<{ calls: ContainerClient; streams: ContainerClient }>;

/**
 * The SDK's clients for the container. Credentials are handed to the SDK and
 * never read, stored or logged here. A body streamed from a request cannot be
 * sent twice, so calls that carry one go through a pipeline without retries
 * (the tus client retries, from the offset Redis recorded).
 */
export function createAzureClients(settings: AzureSettings): AzureClients {
  const client = (maxTries: number) => {
    const options: StoragePipelineOptions = { retryOptions: { maxTries }, keepAliveOptions: { enable: true } };
    if (settings.connectionString) {
      return BlobServiceClient.fromConnectionString(settings.connectionString, options).getContainerClient(
        settings.container,
      );
    }
    const account = settings.account as string;
    const endpoint = (settings.endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, '');
    const credential = settings.accountKey
      ? new StorageSharedKeyCredential(account, settings.accountKey)
      : new AnonymousCredential();
    const sas = settings.accountKey ? '' : `?${(settings.sasToken ?? '').replace(/^\?/, '')}`;
    return new BlobServiceClient(`${endpoint}${sas}`, newPipeline(credential, options)).getContainerClient(
      settings.container,
    );
  };
  return { calls: client(3), streams: client(1) };
}

type AzureFailure = { name?: string; code?: string; statusCode?: number; message?: string };

/** Network failures: Azure not reachable, or the connection lost. */
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|ECONNABORTED)$/;

export function azureStatus(error: unknown): number | undefined {
  return (error as AzureFailure).statusCode;
}

export function azureCode(error: unknown): string | undefined {
  return (error as AzureFailure).code;
}

/** What an Azure failure was, in words safe to log (no request, no headers, no credentials). */
export function describeAzureError(error: unknown): string {
  const e = error as AzureFailure;
  // The service's message repeats its XML body, whose first line says what was wrong.
  const message = (e.message ?? '').split('\n')[0];
  return `${e.name ?? 'Error'}${e.statusCode ? ` (${e.statusCode})` : ''}${e.code ? ` ${e.code}` : ''}: ${message}`.trim();
}

/**
 * The client's answer to an Azure failure: the storage is unavailable (503,
 * Retry-After) when Azure is slow, unreachable, overloaded or refuses us (an
 * operator's problem: a wrong key, a SAS that expired, a container that is
 * gone); anything else is an error whose message says what failed.
 */
export function fromAzureError(error: unknown, what: string, logger: Logger): Error {
  const e = error as AzureFailure;
  const status = e.statusCode ?? 0;
  const code = e.code ?? '';
  const unavailable =
    e.name === 'AbortError' ||
    e.name === 'TimeoutError' ||
    NETWORK_CODES.test(code) ||
    code === 'REQUEST_SEND_ERROR' ||
    code === 'ContainerNotFound' ||
    status === 401 ||
    status === 403 ||
    status === 408 ||
    status >= 500 ||
    (status === 0 && e.name === 'RestError');
  logger.warn(
    {
      azure: { name: e.name, status: status || undefined, code: code || undefined, message: e.message?.split('\n')[0] },
      call: what,
    },
    'Azure Storage call failed',
  );
  if (unavailable) return appError('STORAGE_UNAVAILABLE');
  return new Error(`Azure ${what} failed: ${describeAzureError(error)}`);
}
