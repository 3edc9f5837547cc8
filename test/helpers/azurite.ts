import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { listensOn } from './child.js';
import { freePort } from './server-process.js';

export type AzureCredentials = { endpoint: string; account: string; accountKey: string; connectionString: string };

export type Azurite = AzureCredentials & {
  pid: number;
  /** SIGSTOP: the port stays open and the kernel still accepts connections, but nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT: it answers again, requests that waited meanwhile included. */
  resume(): void;
  /** Stops it (a paused one too) and waits until it is gone. */
  stop(): Promise<void>;
};

/** Azurite's only account, with the key it publishes for it. */
const account = 'devstoreaccount1';
const accountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const require = createRequire(import.meta.url);
const blobMain = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');

/**
 * A child that exits when its parent's end of the IPC channel closes: Azurite
 * goes with the run even if the run is killed and never calls stop().
 */
const exitWithParent = 'data:text/javascript,process.on("disconnect",()=>process.exit(1))';

const running = new Set<ChildProcess>();
// A test run that ends without calling stop() must not leave it behind (SIGKILL reaches a paused one too).
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Azurite's Blob service on a free loopback port, its data in memory, or in
 * directory `location` if given (for a run that writes many GiB: in memory,
 * what is deleted is freed only by its GC, every 10 minutes, and it refuses
 * writes past half the machine's memory). If it exits or does not answer,
 * the error carries its output.
 */
export async function startAzurite(options: { location?: string } = {}): Promise<Azurite> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(await freePort(), options.location);
    } catch (error) {
      // Only a port taken between picking and binding is worth another try.
      if (attempt === 3 || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

async function launch(port: number, location: string | undefined): Promise<Azurite> {
  const flags = [
    ['--blobHost', '127.0.0.1', '--blobPort', String(port)],
    // Without a location, nothing on disk: otherwise its database and blobs land in the working directory.
    location ? ['--location', location] : '--inMemoryPersistence',
    // Whatever x-ms-version an SDK sends (ours, or the one @tus/azure-store resolves), it is served.
    '--skipApiVersionCheck',
    // No access log line per request; its output is only read when it fails.
    '--silent',
    // On by default: it would report each start to Application Insights over the network.
    '--disableTelemetry',
  ].flat();
  const child = spawn(process.execPath, ['--import', exitWithParent, blobMain, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const pid = child.pid ?? -1;
  running.add(child);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (e) => keep(Buffer.from(`cannot run ${process.execPath}: ${e.message}\n`)));
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
  let exited = false;
  void gone.then(() => {
    exited = true;
    running.delete(child);
  });
  // SIGKILL: its data is in memory, nothing to save; and on SIGTERM it waits for open keep-alive connections to close.
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await gone;
  };

  const endpoint = `http://127.0.0.1:${port}/${account}`;
  // Listening by pid, so another Azurite on that port (another run's) is never mistaken for this one.
  const answers = async () =>
    (await listensOn(pid, port)) &&
    (await fetch(endpoint, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.headers.get('server')?.startsWith('Azurite-Blob') ?? false,
      () => false,
    ));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const problem = exited ? 'exited' : Date.now() > deadline ? 'did not answer within 20 s' : undefined;
    if (problem) {
      await stop();
      throw new Error(`Azurite on port ${port} ${problem}:\n${output.trim()}`);
    }
    if (await answers()) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    endpoint,
    account,
    accountKey,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${accountKey};BlobEndpoint=${endpoint};`,
    pid,
    async pause() {
      child.kill('SIGSTOP');
      // The signal is asynchronous: return once the process is stopped, so the next request surely meets silence.
      const stopped = async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.startsWith('T');
      while (!(await stopped())) await new Promise((r) => setTimeout(r, 5));
    },
    resume() {
      child.kill('SIGCONT');
    },
    stop,
  };
}
