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

  it('has an optional s3 profile: an S3-compatible server, a job that makes the bucket, and an instance on it', async () => {
    const { s3, 's3-bucket': bucket, 'app-s3': app } = compose.services;
    for (const service of [s3, bucket, app]) expect(service.profiles).toEqual(['s3']);
    expect(s3.image).toMatch(/^chrislusf\/seaweedfs:\d/);
    expect(bucket.entrypoint.join(' ')).toMatch(/s3 mb s3:\/\/uploads/);
    expect(app.environment).toMatchObject({
      STORAGE: 's3',
      S3_BUCKET: 'uploads',
      S3_ENDPOINT: 'http://s3:8333',
      S3_FORCE_PATH_STYLE: 'true',
      REDIS_URL: 'redis://redis:6379',
    });
    // No shared volume: with S3 an instance's UPLOAD_DIR holds temporary data only.
    expect(app.volumes).toBeUndefined();
    expect(app.depends_on['s3-bucket'].condition).toBe('service_completed_successfully');
    expect(app.depends_on.redis.condition).toBe('service_healthy');
    // And the settings it uses are real ones (the configuration accepts them).
    const { loadConfig } = await import('../../src/config/load-config.js');
    expect(loadConfig(app.environment).storage).toMatchObject({
      kind: 's3',
      s3Bucket: 'uploads',
      s3ForcePathStyle: true,
    });
  });

  it('has an optional azure profile: Azurite, a job that makes the container, and an instance on it', async () => {
    const { azurite, 'azure-container': container, 'app-azure': app } = compose.services;
    for (const service of [azurite, container, app]) expect(service.profiles).toEqual(['azure']);
    expect(azurite.image).toMatch(/^mcr\.microsoft\.com\/azure-storage\/azurite:\d/);
    expect(container.entrypoint.join(' ')).toMatch(/az storage container create --name uploads/);
    expect(container.environment.AZURE_STORAGE_CONNECTION_STRING).toBe(app.environment.AZURE_STORAGE_CONNECTION_STRING);
    expect(app.volumes).toBeUndefined();
    expect(app.depends_on['azure-container'].condition).toBe('service_completed_successfully');
    const { loadConfig } = await import('../../src/config/load-config.js');
    expect(loadConfig(app.environment).storage).toMatchObject({ kind: 'azure', azureContainer: 'uploads' });
  });

  it('builds an image that runs the compiled server', () => {
    // The active LTS line (Node 20 is past its end of life).
    expect(dockerfile).toMatch(/^FROM node:24/m);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/main\.js"\]/);
  });
});
