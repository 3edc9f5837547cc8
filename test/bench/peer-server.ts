// The peer: plain @tus/server + @tus/file-store (file configstore, in-memory
// lock), mounted in Express the way this project mounts its own.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import express from 'express';

const directory = process.env.UPLOAD_DIR as string;
mkdirSync(directory, { recursive: true });
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const app = express();
app.all(['/files', '/files/*rest'], (req, res) => tus.handle(req, res));
const server = createServer({ requestTimeout: 0 }, app);
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('serving tus uploads'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
