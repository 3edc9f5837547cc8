import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs here, so the compose file is checked by reading it.
const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'));
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

describe('docker-compose.yml', () => {
  it('runs Redis with an append-only file and noeviction, and checks its health', () => {
    const command = compose.services.redis.command.join(' ');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--appendfsync everysec/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).not.toMatch(/allkeys-lru|volatile-/);
    expect(compose.services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(compose.services.redis.volumes[0]).toMatch(/:\/data$/);
  });

  it('runs the app against that Redis once it is healthy, with uploads on a volume and a healthcheck', () => {
    const app = compose.services.app;
    expect(app.build).toBe('.');
    expect(app.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(app.environment.UPLOAD_DIR).toBe('/data/uploads');
    expect(app.ports).toContain('1080:1080');
    expect(app.depends_on.redis.condition).toBe('service_healthy');
    expect(app.volumes).toContain('uploads:/data/uploads');
    expect(app.healthcheck.test.join(' ')).toMatch(/127\.0\.0\.1:1080\/readyz/);
    // Longer than the server's own shutdown bound, so uploads in flight can record their bytes.
    expect(Number.parseInt(app.stop_grace_period, 10)).toBeGreaterThan(15);
    expect(Object.keys(compose.volumes)).toEqual(['redis-data', 'uploads']);
  });

  it('builds an image that runs the compiled server', () => {
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/main\.js"\]/);
  });
});
