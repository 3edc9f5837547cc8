// The limit: a bare Node http server that streams each PATCH body into a file
// at its offset. Just enough of tus for the same load generator (POST answers
// a Location, PATCH an Upload-Offset), and nothing else: no validation, no state.
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const directory = process.env.UPLOAD_DIR as string;
mkdirSync(directory, { recursive: true });
const server = createServer({ requestTimeout: 0 }, async (req, res) => {
  if (req.method === 'POST') {
    const id = randomUUID();
    writeFileSync(path.join(directory, id), '');
    res.writeHead(201, { Location: `/files/${id}`, 'Tus-Resumable': '1.0.0' }).end();
    return;
  }
  if (req.method !== 'PATCH') {
    res.writeHead(204, { 'Tus-Resumable': '1.0.0' }).end();
    return;
  }
  const id = path.basename(req.url ?? '');
  const offset = Number(req.headers['upload-offset'] ?? 0);
  const out = createWriteStream(path.join(directory, id), { flags: 'r+', start: offset });
  await pipeline(req, out);
  res.writeHead(204, { 'Upload-Offset': String(offset + out.bytesWritten), 'Tus-Resumable': '1.0.0' }).end();
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('serving tus uploads'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
