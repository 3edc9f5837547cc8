import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { expect } from 'vitest';
import { waitFor } from './wait.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export type ServerProcess = {
  url: string;
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Stops it however it is (SIGKILL), and waits for it to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
};

const running = new Set<ServerProcess>();

/**
 * The real server (src/main.ts) as a child process on a free port; `env` adds
 * to or overrides its environment; `cwd` runs the source tree found there (an
 * older build of this repository, say: see old-build.ts); `script` runs
 * another program that serves on PORT (an example from docs/), ready once it
 * prints `ready`.
 */
export async function startServerProcess(
  env: Record<string, string>,
  {
    cwd,
    script = 'src/main.ts',
    ready = /serving tus uploads/,
    readyTimeoutMs = 30_000,
  }: { cwd?: string; script?: string; ready?: RegExp; readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = env.PORT ? Number(env.PORT) : await freePort();
    const server = spawnServer(port, env, cwd, script);
    try {
      await server.waitForOutput(ready, readyTimeoutMs);
      return server;
    } catch (error) {
      // Another process took the free port between our look and its listen (test files run side by side).
      if (attempt < 5 && !env.PORT && /EADDRINUSE/.test(server.output())) {
        await server.kill();
        continue;
      }
      throw error;
    }
  }
}

function spawnServer(
  port: number,
  env: Record<string, string>,
  cwd: string | undefined,
  script: string,
): ServerProcess {
  const child = spawn('node', ['--import', 'tsx', script], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'info', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForOutput = async (pattern: RegExp, timeoutMs = 30_000) => {
    await waitFor(
      () => {
        if (pattern.test(output)) return true;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`server exited; no ${pattern} in:\n${output}`);
        return false;
      },
      { timeoutMs, intervalMs: 25, what: () => `${pattern} in:\n${output}` },
    );
  };
  const server: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    exit,
    output: () => output,
    waitForOutput,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exit;
      running.delete(server);
    },
  };
  running.add(server);
  return server;
}

/** Kills every server process still running (for afterEach, so a failed test leaves nothing behind). */
export async function killAllServerProcesses(): Promise<void> {
  await Promise.all([...running].map((s) => s.kill()));
}

/** Creates an upload of `size` bytes on `server` (a tus POST, expected to answer 201); its path and ID. */
export async function createUploadOn(server: ServerProcess, size: number): Promise<{ path: string; id: string }> {
  const res = await fetch(`${server.url}/files`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size) },
  });
  expect(res.status).toBe(201);
  const pathname = new URL(res.headers.get('location') as string).pathname;
  return { path: pathname, id: pathname.split('/').pop() as string };
}
