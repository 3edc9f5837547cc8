import { execFile } from 'node:child_process';

// Debian's python3-tuspy with Upload-Checksum (sha1) on every PATCH. The first
// chunk's checksum is spoiled on purpose: the server must answer 460, count
// nothing of it, and take the retried chunk.
const TUSPY = `
import sys
from tusclient import client, request
endpoint, path, chunk_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
spoil = {'left': 1}
original = request.BaseTusRequest.add_checksum
def add_checksum(self, chunk):
    if spoil['left'] > 0:
        spoil['left'] -= 1
        return original(self, bytes([chunk[0] ^ 0xff]) + chunk[1:])
    return original(self, chunk)
request.BaseTusRequest.add_checksum = add_checksum
statuses = []
original_perform = request.TusRequest.perform
def perform(self):
    original_perform(self)
    statuses.append(self.status_code)
request.TusRequest.perform = perform
c = client.TusClient(endpoint)
uploader = c.uploader(path, chunk_size=chunk_size, metadata={'filename': 'checked.bin'}, upload_checksum=True, retries=2, retry_delay=0)
uploader.upload()
print(' '.join(str(s) for s in statuses))
print(uploader.url)
`;

/**
 * Uploads `file` to `endpoint` with tuspy in PATCHes of `chunkSize` bytes, the
 * first one's checksum spoiled: the status of every PATCH, in order
 * (`460 204 ...`), and the upload's URL.
 */
export async function tuspyWithSpoiledChecksum(
  endpoint: string,
  file: string,
  chunkSize: number,
): Promise<{ statuses: string; url: string }> {
  const output = await new Promise<string>((resolve, reject) =>
    execFile(
      '/usr/bin/python3',
      ['-c', TUSPY, endpoint, file, String(chunkSize)],
      { timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
  const [statuses = '', url = ''] = output.trim().split('\n');
  return { statuses, url };
}
