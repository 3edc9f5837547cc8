import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

describe('configuration', () => {
  it('has defaults that serve a developer on one machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      server: { port: 1080, tusPath: '/files', corsOrigins: [] },
      redis: { url: undefined, keyPrefix: '' },
      uploads: { ttlMs: 86400 * 1000, chunkSizeBytes: 5 * 1024 * 1024, maxSizeBytes: 0 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.uploads)).toBe(true);
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
      server: {
        port: 8080,
        corsOrigins: ['https://a.example', 'https://b.example'],
        trustProxy: true,
        relativeLocation: true,
      },
      redis: { url: 'redis://redis:6379/2', keyPrefix: 'prod:' },
      storage: { uploadDir: '/data/uploads' },
      uploads: { ttlMs: 60 * 1000, chunkSizeBytes: 1_048_576, maxSizeBytes: 1_000_000_000 },
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

  it('refuses auth and webhook settings that would silently do nothing or could never verify a token', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
    };
    const pem = (type: 'rsa' | 'ec' | 'ed25519') => {
      const { publicKey } =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : type === 'ec'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
            : generateKeyPairSync('ed25519');
      return publicKey.export({ type: 'spki', format: 'pem' }).toString();
    };
    // Without a key no token is checked: the server would be open although the operator meant to close it.
    expect(problems({ AUTH_JWT_ALGORITHM: 'RS256', AUTH_JWT_ISSUER: 'https://id.example' })).toEqual([
      'AUTH_JWT_ALGORITHM, AUTH_JWT_ISSUER: no token is checked without AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY; set one',
    ]);
    expect(problems({ WEBHOOK_SECRET: 'a-webhook-secret-for-tests' })).toEqual([
      'WEBHOOK_SECRET: no webhook is sent without WEBHOOK_URLS; set it',
    ]);
    expect(problems({ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_ALGORITHM: 'RS256' })[0]).toMatch(
      /RS256 does not go with a secret/,
    );
    expect(problems({ AUTH_JWT_PUBLIC_KEY: pem('rsa'), AUTH_JWT_ALGORITHM: 'ES256' })).toEqual([
      'AUTH_JWT_ALGORITHM: ES256 does not go with this public key (it fits RS256, RS384, RS512, PS256)',
    ]);
    // The default algorithm is the one the key's type fits.
    expect(loadConfig({ AUTH_JWT_PUBLIC_KEY: pem('ec') }).auth.jwt?.algorithm).toBe('ES256');
    expect(loadConfig({ AUTH_JWT_PUBLIC_KEY: pem('ed25519') }).auth.jwt?.algorithm).toBe('EdDSA');
    expect(loadConfig({ AUTH_JWT_PUBLIC_KEY: pem('rsa') }).auth.jwt?.algorithm).toBe('RS256');
  });
});
