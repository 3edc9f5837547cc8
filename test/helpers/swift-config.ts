import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** Debian's interpreter: a pyenv `python3` earlier on PATH lacks the swift modules. */
export const PYTHON = '/usr/bin/python3';

export type Ports = { memcached: number; account: number; container: number; object: number; proxy: number };

export const swiftConf = `[swift-hash]
swift_hash_path_suffix = tus-test
swift_hash_path_prefix = tus-test

[storage-policy:0]
name = Policy-0
default = yes
`;

// bind_timeout: Swift retries a taken port for 30 s by default; fail fast instead.
const defaults = (dir: string, port: number) => `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
bind_timeout = 2
workers = 0
devices = ${path.join(dir, 'srv')}
mount_check = false
swift_dir = ${path.join(dir, 'etc')}
user = ${userInfo().username}
log_level = INFO
`;

export function backendConf(dir: string, kind: 'account' | 'container' | 'object', port: number): string {
  return `${defaults(dir, port)}
[pipeline:main]
pipeline = ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

const filters = [
  'catch_errors',
  'gatekeeper',
  'healthcheck',
  'proxy_logging',
  'listing_formats',
  'bulk',
  'ratelimit',
  'copy',
  'dlo',
  'versioned_writes',
];

export function proxyConf(dir: string, port: number, memcachedPort: number): string {
  return `${defaults(dir, port)}
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy_logging cache listing_formats bulk ratelimit s3api tempauth copy slo dlo versioned_writes proxy_logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
max_upload_part_num = 10000
min_segment_size = 5242880

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcachedPort}

# An S3 upload of 10000 parts is an SLO manifest of 10000 segments (default 1000).
[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000
${filters.map((f) => `\n[filter:${f}]\nuse = egg:swift#${f}\n`).join('')}`;
}

// One interpreter for all three rings: swift-ring-builder would take nine.
const ringScript = `
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for kind, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1', 'weight': 1})
    b.rebalance()
    b.save('%s/%s.builder' % (etc, kind))
    b.get_ring().save('%s/%s.ring.gz' % (etc, kind))
`;

export async function buildRings(etc: string, ports: Ports): Promise<void> {
  await promisify(execFile)(PYTHON, [
    '-c',
    ringScript,
    etc,
    String(ports.account),
    String(ports.container),
    String(ports.object),
  ]);
}
