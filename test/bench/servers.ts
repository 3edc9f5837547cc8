import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/server-process.js';

export type Running = {
  kind: string;
  url: string;
  child: ChildProcess;
  prefix: string;
  peakRssMiB(): number;
  stop(): Promise<void>;
};

/** A server under test as a child process on a free port, once it answers OPTIONS /files. */
export async function spawnServer(
  kind: string,
  args: string[],
  env: Record<string, string>,
  prefix = '',
): Promise<Running> {
  const port = await freePort();
  const child = spawn('node', args, {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 20_000;
  const url = `http://127.0.0.1:${port}`;
  while (
    !(await fetch(`${url}/files`, { method: 'OPTIONS' }).then(
      () => true,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${kind} did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    kind,
    url,
    child,
    prefix,
    peakRssMiB: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      if (env.UPLOAD_DIR) rmSync(env.UPLOAD_DIR, { recursive: true, force: true });
    },
  };
}
