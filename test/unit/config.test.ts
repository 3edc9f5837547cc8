import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has defaults that serve a developer on one machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 1080,
      redisUrl: undefined,
      tusPath: '/files',
      uploadTtlSeconds: 86400,
      chunkSizeBytes: 5 * 1024 * 1024,
      maxSizeBytes: 0,
      redisKeyPrefix: '',
      corsOrigins: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      REDIS_URL: 'redis://redis:6379/2',
      UPLOAD_DIR: '/data/uploads',
      UPLOAD_TTL_SECONDS: '60',
      CHUNK_SIZE_BYTES: '1048576',
      MAX_SIZE_BYTES: '1000000000',
      REDIS_KEY_PREFIX: 'prod:',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: 'true',
      RELATIVE_LOCATION: 'yes',
    });
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: 'redis://redis:6379/2',
      uploadDir: '/data/uploads',
      uploadTtlSeconds: 60,
      chunkSizeBytes: 1_048_576,
      maxSizeBytes: 1_000_000_000,
      redisKeyPrefix: 'prod:',
      corsOrigins: ['https://a.example', 'https://b.example'],
      trustProxy: true,
      relativeLocation: true,
    });
  });

  it('reports every bad value at once, each with its variable and what it got', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '70000',
        UPLOAD_TTL_SECONDS: 'day',
        REDIS_KEY_PREFIX: 'a{b}',
        CORS_ORIGINS: 'not a url',
        TRUST_PROXY: 'maybe',
        TUS_PATH: 'files',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/PORT: .*65535.*\(got "70000"\)/);
    expect(problems.join('\n')).toMatch(/UPLOAD_TTL_SECONDS: must be a whole number \(got "day"\)/);
    expect(problems.join('\n')).toMatch(/REDIS_KEY_PREFIX: must not contain braces/);
    expect(problems.join('\n')).toMatch(/CORS_ORIGINS: /);
    expect(problems.join('\n')).toMatch(/TRUST_PROXY: must be true or false/);
    expect(problems.join('\n')).toMatch(/TUS_PATH: must be a path like \/files/);
  });
});
