// Run as a child process: wires the uploads with the storage named by STORAGE, starts the byte store, and prints
// (as JSON) every module resolved meanwhile. STORAGE=s3 points at nothing: its start fails, after loading its code.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const urls: string[] = [];
port1.on('message', (url: string) => urls.push(url));
register('./module-log.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const { wireUploads } = await import('../../src/app/wire-uploads.js');
const { loadConfig } = await import('../../src/config/load-config.js');
const { createLogger } = await import('../../src/log.js');
const { createRedisClient } = await import('../../src/redis/client.js');
const { keysFor } = await import('../../src/redis/keys.js');
const { UploadReader } = await import('../../src/uploads/read/upload-reader.js');

const config = loadConfig(process.env);
const redis = createRedisClient('redis://127.0.0.1:1', { commandTimeoutMs: 200 });
const keys = keysFor(config.redis);
const uploads = wireUploads({
  config,
  redis,
  keys,
  reader: new UploadReader(redis, keys),
  logger: createLogger('silent'),
  events: { emit: async () => {} },
});
const started = await (uploads.bytes.start?.() ?? Promise.resolve()).then(
  () => 'started',
  (error: Error) => `not started: ${error.message}`,
);
await new Promise((resolve) => setTimeout(resolve, 100)); // the last messages from the hook thread
process.stdout.write(JSON.stringify({ started, urls }));
redis.disconnect();
process.exit(0);
