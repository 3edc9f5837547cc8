import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/server-process.js';

export type Running = {
  kind: string;
  url: string;
  child: ChildProcess;
  prefix: string;
  peakRssMiB(): number;
  /** CPU time the server process has used so far (all its threads), in ms; see cpuMsOf. */
  cpuMs(): number;
  stop(): Promise<void>;
};

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/**
 * CPU time of a process so far, user + system, in ms: utime and stime (fields 14 and 15 of /proc/<pid>/stat,
 * in clock ticks, so a resolution of 1000 / CLK_TCK ms). For a process they add up all its threads (worker
 * threads, libuv's pool, V8's GC helpers), including threads that have ended; children are not included.
 */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return ((Number(fields[14 - 3]) + Number(fields[15 - 3])) * 1000) / CLK_TCK;
}

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
    cpuMs: () => cpuMsOf(child.pid as number),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      if (env.UPLOAD_DIR) rmSync(env.UPLOAD_DIR, { recursive: true, force: true });
    },
  };
}
