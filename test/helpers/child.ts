import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** A service child process: its pid, the tail of its output, and a stop that waits until it is gone. */
export type Child = {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last few KiB of its stdout and stderr. */
  tail(): string;
  exited(): boolean;
  stop(): Promise<void>;
};

const running = new Set<Child>();

// A test run that ends without calling stop() must not leave services behind.
process.once('exit', () => {
  for (const child of running) child.process.kill('SIGKILL');
});

export function startChild(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d).slice(-6000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  // A command that cannot be spawned emits 'error' and never 'exit'.
  let unspawned = false;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()).once('error', () => resolve()));
  proc.once('error', (e) => {
    unspawned = true;
    keep(Buffer.from(`cannot run ${command}: ${e.message}\n`));
  });
  const child: Child = {
    name,
    pid: proc.pid ?? -1,
    process: proc,
    tail: () => output.trim(),
    exited: () => proc.exitCode !== null || proc.signalCode !== null || unspawned,
    async stop() {
      if (!child.exited()) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      running.delete(child);
    },
  };
  running.add(child);
  return child;
}

/**
 * Is `pid` itself listening on 127.0.0.1:`port`? Read from /proc, so another
 * server that happens to hold the port is never mistaken for this child.
 */
export async function listensOn(pid: number, port: number): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Fields: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
    if (f[1] === local && f[3] === '0A' && f[9]) inodes.add(`socket:[${f[9]}]`);
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (inodes.has(target)) return true;
  }
  return false;
}
