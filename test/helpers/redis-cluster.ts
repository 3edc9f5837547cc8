import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export type RedisClusterProcesses = Readonly<{
  /** redis+cluster:// URL of the masters, as the server takes it. */
  url: string;
  nodes: readonly RedisServerProcess[];
  stop(): Promise<void>;
}>;

/**
 * A real local Redis Cluster: `masters` redis-server processes (each with
 * `replicas` replicas) on free ports, joined by `redis-cli --cluster create`,
 * ready once every node says cluster_state:ok.
 */
export async function startRedisCluster(dir: string, masters = 3, replicas = 1): Promise<RedisClusterProcesses> {
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicas) }, (_, i) =>
      startRedisServer({
        dir: path.join(dir, `node-${i}`),
        extraArgs: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ],
      }),
    ),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await waitUntilClusterOk(nodes);
  } catch (error) {
    await stop();
    throw error;
  }
  const firsts = nodes.slice(0, masters).map((n) => `127.0.0.1:${n.port}`);
  return { url: `redis+cluster://${firsts.join(',')}`, nodes, stop };
}

async function waitUntilClusterOk(nodes: readonly RedisServerProcess[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const node of nodes) {
    const client = new Redis(node.url);
    try {
      let info = '';
      await waitFor(
        async () => {
          info = String(await client.cluster('INFO'));
          return /cluster_state:ok/.test(info);
        },
        {
          timeoutMs: Math.max(0, deadline - Date.now()),
          intervalMs: 100,
          what: () => `cluster_state:ok on ${node.url}:\n${info}`,
        },
      );
    } finally {
      client.disconnect();
    }
  }
}
