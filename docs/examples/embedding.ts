import express from 'express';
import {
  accessDenied,
  createApp,
  createHttpServer,
  createLogger,
  createRedisClient,
  loadConfig,
  preCreateRefusal,
} from 'tus-redis-server';

// Your own session lookup (here a cookie `session=<user>`) and your own job queue.
async function sessionUser(cookie: string | undefined) {
  const id = /(?:^|;\s*)session=([a-z]+)/.exec(cookie ?? '')?.[1];
  return id ? { id, plan: { maxUploadBytes: 1024 * 1024 * 1024 } } : undefined;
}
function queueThumbnail(uploadId: string) {
  console.log(`thumbnail queued for ${uploadId}`);
}

const config = loadConfig({ ...process.env, TUS_PATH: '/media/files' }); // the same variables as the server
const redis = createRedisClient(config.redis.url ?? 'redis://127.0.0.1:6379', {
  commandTimeoutMs: config.redis.commandTimeoutMs,
});
await redis.connect();
const uploads = createApp({
  config,
  redis,
  logger: createLogger('warn'),
  demo: false, // your app owns `/`
  // Before every request that touches an upload; the owner you return is recorded and then enforced.
  authorize: async ({ headers }) => {
    const user = await sessionUser(headers.cookie);
    if (!user) throw accessDenied(401, 'Log in to upload files');
    return { owner: user.id, limits: { maxSizeBytes: user.plan.maxUploadBytes } };
  },
  // Before an upload is created: refuse it, or change its metadata.
  preCreate: ({ upload }) => {
    if (upload.metadata.filetype === 'application/x-msdownload') {
      throw preCreateRefusal(415, 'Executables are not accepted');
    }
    return { metadata: { ...upload.metadata, project: 'apollo' } };
  },
  // In-process events (awaited, like the webhook outbox).
  onEvent: [
    (event) => {
      if (event.type === 'completed') queueThumbnail(event.id);
    },
  ],
});
await uploads.start();

const app = express();
app.get('/', (_req, res) => res.send('your product'));
app.use(uploads.app); // tus at TUS_PATH, the /api routes, /healthz, /readyz, /metrics
const server = createHttpServer(app); // its timeouts suit long uploads
server.listen(Number(process.env.PORT ?? 3000), () => console.log(`listening on ${process.env.PORT ?? 3000}`));
process.once('SIGTERM', async () => {
  await uploads.stop(); // lets in-flight uploads record what they received
  server.close();
  redis.disconnect();
});
