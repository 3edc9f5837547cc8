// The S3 peer: plain @tus/server + @tus/s3-store, configured as its README
// advises (8 MiB parts), on the same S3 server as ours, mounted in Express.
import { createServer } from 'node:http';
import { S3Store } from '@tus/s3-store';
import { Server } from '@tus/server';
import express from 'express';

const datastore = new S3Store({
  partSize: 8 * 1024 * 1024,
  s3ClientConfig: {
    bucket: process.env.S3_BUCKET as string,
    region: process.env.S3_REGION as string,
    endpoint: process.env.S3_ENDPOINT,
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY as string,
    },
    // OpenStack Swift cannot read the SDK's default aws-chunked bodies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  },
});
const tus = new Server({ path: '/files', datastore });
const app = express();
app.all(['/files', '/files/*rest'], (req, res) => tus.handle(req, res));
const server = createServer({ requestTimeout: 0 }, app);
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('serving tus uploads'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
