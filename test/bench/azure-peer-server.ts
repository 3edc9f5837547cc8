// The Azure peer: plain @tus/server + @tus/azure-store, configured as its
// README advises, on the same Azurite as ours, mounted in Express. Its README's
// `account`/`accountKey`/`containerName` options can only reach
// https://<account>.blob.core.windows.net; for any other endpoint it advises
// passing a ContainerClient built by the caller, as here. Everything else is
// its default (the upload metadata cached in memory).
import { createServer } from 'node:http';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AzureStore } from '@tus/azure-store';
import { Server } from '@tus/server';
import express from 'express';

const client = new ContainerClient(
  `${process.env.AZURE_BLOB_ENDPOINT}/${process.env.AZURE_CONTAINER}`,
  new StorageSharedKeyCredential(process.env.AZURE_STORAGE_ACCOUNT as string, process.env.AZURE_STORAGE_KEY as string),
);
const tus = new Server({ path: '/files', datastore: new AzureStore({ client }) });
const app = express();
app.all(['/files', '/files/*rest'], (req, res) => tus.handle(req, res));
const server = createServer({ requestTimeout: 0 }, app);
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('serving tus uploads'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
