import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { findRedis } from '../../src/redis/local-server.js';
import { waitFor } from '../helpers/wait.js';

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function run(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForOutput = async (pattern: RegExp, timeoutMs: number) => {
    await waitFor(
      () => {
        if (pattern.test(output)) return true;
        if (child.exitCode !== null) throw new Error(`exited; no ${pattern} in:\n${output}`);
        return false;
      },
      { timeoutMs, intervalMs: 50, what: () => `${pattern} in:\n${output}` },
    );
  };
  return { child, exit, waitForOutput, output: () => output };
}

describe('npm start', () => {
  it('builds and serves uploads on PORT with the given Redis', async () => {
    const port = await unusedPort();
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'start-'));
    const server = run('npm', ['start', '--silent'], {
      PORT: String(port),
      REDIS_URL: inject('redisUrl'),
      UPLOAD_DIR: dir,
    });
    try {
      await server.waitForOutput(/serving tus uploads/, 60_000);
      const created = await fetch(`http://127.0.0.1:${port}/files`, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '3' },
      });
      expect(created.status).toBe(201);
      const location = created.headers.get('location') as string;
      const patched = await fetch(location, {
        method: 'PATCH',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: 'abc',
      });
      expect(patched.status).toBe(204);
      const progress = await fetch(`http://127.0.0.1:${port}/api/uploads/${location.split('/').pop()}/progress`);
      expect(await progress.json()).toMatchObject({ status: 'completed', size: 3 });
    } finally {
      // npm and the server it started form one process group.
      process.kill(-(server.child.pid as number), 'SIGTERM');
    }
    await server.exit;
  }, 90_000);

  it('stops on SIGTERM: exits 0 after closing the server and Redis', async () => {
    const port = await unusedPort();
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'stop-'));
    const server = run('node', ['--import', 'tsx', 'src/main.ts'], {
      PORT: String(port),
      REDIS_URL: inject('redisUrl'),
      UPLOAD_DIR: dir,
    });
    await server.waitForOutput(/serving tus uploads/, 30_000);
    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
    expect(server.output()).toMatch(/shutting down/);
  });

  it('refuses a bad configuration with one line per bad value and exit code 2', async () => {
    const server = run('node', ['--import', 'tsx', 'src/main.ts'], {
      PORT: 'eighty',
      CHUNK_SIZE_BYTES: '12',
      REDIS_URL: 'localhost:6379',
    });
    expect(await server.exit).toBe(2);
    expect(server.output()).toMatch(/PORT: must be a whole number \(got "eighty"\)/);
    expect(server.output()).toMatch(/CHUNK_SIZE_BYTES: .*65536/);
    expect(server.output()).toMatch(
      /REDIS_URL: must be a redis:\/\/, rediss:\/\/ or redis\+cluster:\/\/host:port,host:port URL/,
    );
  });
});

describe('finding Redis without REDIS_URL', () => {
  const logger = createLogger('silent');

  it('uses the Redis that answers at the probe address', async () => {
    const found = await findRedis({ redisUrl: undefined, uploadDir: '/unused' }, logger, inject('redisUrl'));
    expect(found).toEqual({ url: inject('redisUrl') });
  });

  it('starts a local redis-server with an append-only file under the upload directory when nothing answers', async () => {
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'local-redis-'));
    const probe = `redis://127.0.0.1:${await unusedPort()}`;
    const found = await findRedis({ redisUrl: undefined, uploadDir: dir }, logger, probe);
    expect(found.local).toBeDefined();
    const client = new Redis(found.url);
    try {
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', path.join(dir, '.redis')]);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      client.disconnect();
      await found.local?.stop();
    }
    expect(found.local?.process.exitCode ?? found.local?.process.signalCode).not.toBeNull();
  });

  it('names REDIS_URL and docker compose when it can neither find nor start one', async () => {
    const probe = `redis://127.0.0.1:${await unusedPort()}`;
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(findRedis({ redisUrl: undefined, uploadDir: inject('tmpRoot') }, logger, probe)).rejects.toThrow(
        /REDIS_URL=redis:\/\/host:port.*docker compose up/,
      );
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
