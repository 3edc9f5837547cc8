import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { type Child, listensOn, startChild } from './child.js';
import { freePort } from './server-process.js';
import { backendConf, buildRings, type Ports, PYTHON, proxyConf, swiftConf } from './swift-config.js';

export type S3Credentials = { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };

export type Swift = S3Credentials & {
  /** Where its configs, rings and data are; startSwiftProxy needs it. */
  dir: string;
  /** memcached, the account, container and object servers, the proxy. */
  pids: number[];
  stop(): Promise<void>;
};

export type SwiftProxy = { endpoint: string; pid: number; stop(): Promise<void> };

const credentials = { region: 'us-east-1', accessKeyId: 'test:tester', secretAccessKey: 'testing' };

// Without PYTHONPATH/PYTHONHOME from a pyenv, /usr/bin/python3 finds Debian's swift modules.
const pythonEnv = () => {
  const { PYTHONPATH: _p, PYTHONHOME: _h, ...env } = process.env;
  return env;
};

/**
 * A single-node Swift with s3api on free loopback ports, data and rings in
 * `dir`. Every process is a child of this one; if any fails to start, all
 * are stopped and the error carries their output.
 */
export async function startSwift({ dir }: { dir: string }): Promise<Swift> {
  const etc = path.join(dir, 'etc');
  await mkdir(path.join(dir, 'srv', 'd1'), { recursive: true });
  await mkdir(etc, { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(dir, etc);
    } catch (error) {
      lastError = error;
      // Only a port taken between picking and binding is worth another try.
      if (!/Could not bind|Address already in use|failed to listen/i.test(String(error))) break;
    }
  }
  throw lastError;
}

async function launch(dir: string, etc: string): Promise<Swift> {
  const ports: Ports = {
    memcached: await freePort(),
    account: await freePort(),
    container: await freePort(),
    object: await freePort(),
    proxy: await freePort(),
  };
  await writeFile(path.join(etc, 'swift.conf'), swiftConf);
  for (const kind of ['account', 'container', 'object'] as const)
    await writeFile(path.join(etc, `${kind}-server.conf`), backendConf(dir, kind, ports[kind]));
  await writeFile(path.join(etc, 'proxy-server.conf'), proxyConf(dir, ports.proxy, ports.memcached));
  await buildRings(etc, ports);

  const children: Child[] = [];
  const stop = async () => {
    // The proxy first, so nothing reaches a backend that is going away.
    for (const child of [...children].reverse()) await child.stop();
  };
  const started = (child: Child) => {
    children.push(child);
    return child;
  };
  try {
    // memcached refuses to run as root unless told which user to be.
    const asUser = process.getuid?.() === 0 ? ['-u', userInfo().username] : [];
    const memcached = started(
      startChild('memcached', 'memcached', ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', ...asUser]),
    );
    const ready = [waitListening(memcached, ports.memcached)];
    for (const kind of ['account', 'container', 'object'] as const) {
      const server = started(swiftServer(kind, path.join(etc, `${kind}-server.conf`)));
      ready.push(waitListening(server, ports[kind]));
    }
    const proxy = started(swiftServer('proxy', path.join(etc, 'proxy-server.conf')));
    ready.push(waitHealthy(proxy, ports.proxy));
    await Promise.all(ready);
  } catch (error) {
    const logs = children.map((c) => `--- ${c.name} (pid ${c.pid}) ---\n${c.tail().slice(-2000)}`).join('\n');
    await stop();
    throw new Error(`Swift did not start in ${dir}: ${(error as Error).message}\n${logs}`);
  }
  return {
    ...credentials,
    endpoint: `http://127.0.0.1:${ports.proxy}`,
    dir,
    pids: children.map((c) => c.pid),
    stop,
  };
}

/**
 * Another proxy over the backends of the Swift in `dir` (same rings, same
 * memcached), on its own port: a test may SIGSTOP it without disturbing
 * the shared one.
 */
export async function startSwiftProxy({ dir, port }: { dir: string; port?: number }): Promise<SwiftProxy> {
  const own = port ?? (await freePort());
  const shared = await readFile(path.join(dir, 'etc', 'proxy-server.conf'), 'utf8');
  const conf = path.join(dir, 'etc', `proxy-${own}.conf`);
  await writeFile(conf, shared.replace(/^bind_port = \d+$/m, `bind_port = ${own}`));
  const proxy = swiftServer('proxy', conf, `proxy:${own}`);
  try {
    await waitHealthy(proxy, own);
  } catch (error) {
    const tail = proxy.tail().slice(-2000);
    await proxy.stop();
    throw new Error(`Swift proxy did not start on port ${own}: ${(error as Error).message}\n${tail}`);
  }
  return { endpoint: `http://127.0.0.1:${own}`, pid: proxy.pid, stop: () => proxy.stop() };
}

// -v logs to stderr as well as syslog, so a failure can show what the server said.
const swiftServer = (kind: string, conf: string, name = kind) =>
  startChild(name, PYTHON, [`/usr/bin/swift-${kind}-server`, conf, '-v'], pythonEnv());

async function waitFor(child: Child, what: string, ready: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`${child.name} exited before ${what}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${child.name} not ${what} within ${timeoutMs} ms`);
}

const waitListening = (child: Child, port: number) =>
  waitFor(child, `listening on port ${port}`, () => listensOn(child.pid, port));

const waitHealthy = (child: Child, port: number) =>
  waitFor(child, `healthy on port ${port}`, async () => {
    if (!(await listensOn(child.pid, port))) return false;
    const res = await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(2000) }).catch(
      () => undefined,
    );
    return res?.status === 200 && (await res.text()) === 'OK';
  });
