import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { findRedis } from '../../src/redis/local-server.js';
import { waitFor } from '../helpers/wait.js';

const execFileAsync = promisify(execFile);

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function run(command: string, args: string[], env: Record<string, string>, cwd?: string) {
  const child = spawn(command, args, {
    cwd,
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

      // A supervisor signals the process it started: npm. The server must get the signal, drain and stop
      // (before "exec" in the start script, npm's shell died and left the server running, orphaned).
      process.kill(server.child.pid as number, 'SIGTERM');
      await server.exit;
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined)) === undefined,
        {
          timeoutMs: 10_000,
          what: 'the server to stop listening',
        },
      );
      expect(server.output()).toMatch(/"signal":"SIGTERM"/);
      expect(server.output()).toMatch(/"msg":"stopped"/);
    } finally {
      // npm and the server it started form one process group: nothing outlives the test.
      try {
        process.kill(-(server.child.pid as number), 'SIGKILL');
      } catch {}
    }
  }, 90_000);

  it('builds only when a source is newer than dist/', async () => {
    const build = () => execFileAsync('node', ['scripts/build-if-stale.mjs'], { timeout: 120_000 });
    await build();
    const stamp = 'dist/.built';
    const before = statSync(stamp).mtimeMs;
    const { stderr } = await build();
    expect(stderr).toMatch(/dist\/ is up to date/);
    expect(statSync(stamp).mtimeMs).toBe(before);
    // A build older than the sources (a checkout, an edit): built again.
    utimesSync(stamp, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const again = await build();
    expect(again.stderr).toMatch(/building dist\/: sources changed/);
    expect(statSync(stamp).mtimeMs).toBeGreaterThan(new Date(2000, 0, 1).getTime());
  }, 120_000);

  it('npm pack makes a package that installs, and starts as npx tus-redis-server', async () => {
    await execFileAsync('node', ['scripts/build-if-stale.mjs'], { timeout: 120_000 });
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'pack-'));
    // Its scripts off: the build above is what prepack would run, and this test must not race another build.
    const packed = await execFileAsync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      timeout: 60_000,
    });
    const [tarball] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = (tarball?.files ?? []).map((f) => f.path);
    for (const file of ['dist/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/demo/index.html', 'README.md']) {
      expect(files).toContain(file);
    }
    expect(files).toContain('docs/operations.md');
    expect(files.some((f) => f.startsWith('dist/redis/scripts/') && f.endsWith('.lua'))).toBe(true);
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

    // A project of someone else's that installs the tarball (its dependencies from the registry, or npm's cache).
    const project = path.join(dir, 'consumer');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), '{"name":"consumer","private":true,"type":"module"}\n');
    const tgz = path.join(dir, tarball?.filename as string);
    await execFileAsync('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: project,
      timeout: 180_000,
    });
    const imported = await execFileAsync(
      'node',
      ['--input-type=module', '-e', "const m = await import('tus-redis-server'); console.log(typeof m.createApp)"],
      { cwd: project },
    );
    expect(imported.stdout.trim()).toBe('function');

    const port = await unusedPort();
    const server = run(
      'npx',
      ['--no-install', 'tus-redis-server'],
      {
        PORT: String(port),
        REDIS_URL: inject('redisUrl'),
        REDIS_KEY_PREFIX: `pack-${process.pid}:`,
        UPLOAD_DIR: path.join(dir, 'uploads'),
      },
      project,
    );
    try {
      await server.waitForOutput(/serving tus uploads/, 30_000);
      const created = await fetch(`http://127.0.0.1:${port}/files`, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '3', 'Content-Type': 'application/offset+octet-stream' },
        body: 'abc',
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('upload-offset')).toBe('3');
      expect((await fetch(`http://127.0.0.1:${port}/demo/`)).status).toBe(200);
      // npx runs the server as its child: the group gets the signal, as a terminal's Ctrl-C would send it.
      process.kill(-(server.child.pid as number), 'SIGTERM');
      await server.exit;
      await server.waitForOutput(/"msg":"stopped"/, 10_000).catch(() => {});
      expect(server.output()).toMatch(/"msg":"stopped"/);
    } finally {
      try {
        process.kill(-(server.child.pid as number), 'SIGKILL');
      } catch {}
    }
  }, 240_000);

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

/** A start that cannot succeed: exit 2 and what to fix, in lines an operator reads at night, and nothing else (no stack). */
describe('a start that fails says why in one line', () => {
  const start = (env: Record<string, string>) =>
    run('node', ['--import', 'tsx', 'src/main.ts'], {
      PORT: '0',
      UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'fail-')),
      REDIS_URL: inject('redisUrl'),
      ...env,
    });
  const withoutLogs = (output: string) =>
    output
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('{'))
      .join('\n');

  it('a REDIS_URL where nothing answers', async () => {
    const url = `redis://127.0.0.1:${await unusedPort()}`;
    const server = start({ REDIS_URL: url });
    expect(await server.exit).toBe(2);
    expect(withoutLogs(server.output())).toBe(
      `REDIS_URL: nothing answers at ${url} (connection refused): start Redis there, or set REDIS_URL to one that runs`,
    );
  });

  it('a REDIS_URL where something that is not Redis answers, its password not shown', async () => {
    const http = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as { port: number };
    try {
      const server = start({ REDIS_URL: `redis://app:s3cret@127.0.0.1:${port}` });
      expect(await server.exit).toBe(2);
      expect(withoutLogs(server.output())).toBe(
        `REDIS_URL: what answers at redis://app:***@127.0.0.1:${port} is not Redis (it does not speak the Redis protocol): point REDIS_URL at a Redis server`,
      );
      expect(server.output()).not.toMatch(/s3cret/);
    } finally {
      http.close();
    }
  });

  it('an UPLOAD_DIR that cannot be made', async () => {
    const file = path.join(mkdtempSync(path.join(inject('tmpRoot'), 'notdir-')), 'a-file');
    writeFileSync(file, 'x');
    const server = start({ UPLOAD_DIR: path.join(file, 'uploads') });
    expect(await server.exit).toBe(2);
    expect(withoutLogs(server.output())).toBe(
      `Invalid configuration:\n  - UPLOAD_DIR: ${path.join(file, 'uploads')}: cannot be made: ENOTDIR`,
    );
  });

  it('an UPLOAD_DIR on a read-only file system', async () => {
    // Root ignores file modes, so read-only is a read-only mount.
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir]);
    const server = start({ UPLOAD_DIR: dir });
    try {
      expect(await server.exit).toBe(2);
      expect(withoutLogs(server.output())).toBe(`Invalid configuration:\n  - UPLOAD_DIR: ${dir}: not writable: EROFS`);
    } finally {
      // A server that started anyway would hold the mount.
      if (server.child.exitCode === null) process.kill(-(server.child.pid as number), 'SIGKILL');
      await server.exit;
      execFileSync('umount', ['--lazy', dir]);
    }
  });

  it('a PORT another process listens on', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const server = start({ PORT: String(port), HOST: '127.0.0.1' });
      expect(await server.exit).toBe(2);
      expect(withoutLogs(server.output())).toBe(
        `PORT: cannot listen on 127.0.0.1:${port}: EADDRINUSE. Set PORT (or HOST) to a free address.`,
      );
    } finally {
      taken.close();
    }
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
