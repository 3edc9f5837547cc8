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

  describe('STORAGE=azure', () => {
    const KEY = 'c2VjcmV0LWtleS1vZi10aGUtYWNjb3VudA==';
    const problemsOf = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };

    it('reads a container with an account and its key', () => {
      const config = loadConfig({
        STORAGE: 'azure',
        AZURE_CONTAINER: 'uploads',
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_KEY: KEY,
        AZURE_BLOB_PREFIX: 'tus/',
      });
      expect(config.storage).toMatchObject({
        kind: 'azure',
        azureContainer: 'uploads',
        azureAccount: 'acme',
        azureKey: KEY,
        azureBlobPrefix: 'tus/',
        azureRequestTimeoutMs: 30_000,
      });
    });

    it('names what is missing or contradictory: container, account, one credential', () => {
      expect(problemsOf({ STORAGE: 'azure' })).toEqual([
        'AZURE_CONTAINER: required with STORAGE=azure (the container must exist already)',
        'AZURE_STORAGE_ACCOUNT: required with STORAGE=azure (or set AZURE_STORAGE_CONNECTION_STRING)',
        'AZURE_STORAGE_KEY: required with STORAGE=azure (or set AZURE_STORAGE_SAS_TOKEN)',
      ]);
      const both = { AZURE_CONTAINER: 'uploads', AZURE_STORAGE_ACCOUNT: 'acme', AZURE_STORAGE_SAS_TOKEN: 'sv=x&sig=y' };
      expect(problemsOf({ STORAGE: 'azure', ...both, AZURE_STORAGE_KEY: KEY })).toEqual([
        'AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN: set one of them, not both',
      ]);
      expect(
        problemsOf({
          STORAGE: 'azure',
          AZURE_CONTAINER: 'uploads',
          AZURE_STORAGE_CONNECTION_STRING: 'AccountName=acme;AccountKey=x',
          AZURE_STORAGE_ACCOUNT: 'acme',
        }),
      ).toEqual(['AZURE_STORAGE_CONNECTION_STRING: already names the account; unset AZURE_STORAGE_ACCOUNT']);
    });

    it('refuses a container name Azure would refuse, and Azure settings without STORAGE=azure', () => {
      expect(problemsOf({ AZURE_CONTAINER: 'Up_Loads' })).toEqual([
        'AZURE_CONTAINER: must be an Azure container name: 3 to 63 lowercase letters, digits and single hyphens (got "Up_Loads")',
      ]);
      expect(problemsOf({ AZURE_CONTAINER: 'uploads', AZURE_STORAGE_ACCOUNT: 'acme' })).toEqual([
        'AZURE_CONTAINER, AZURE_STORAGE_ACCOUNT: has no effect without STORAGE=azure; set STORAGE=azure or unset it',
      ]);
    });

    it('keeps an unfinished upload no longer than Azure keeps its uncommitted blocks (a week)', () => {
      const env = {
        STORAGE: 'azure',
        AZURE_CONTAINER: 'uploads',
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_KEY: KEY,
      };
      expect(problemsOf({ ...env, UPLOAD_TTL_SECONDS: String(7 * 86400) })).toEqual([]);
      expect(problemsOf({ ...env, UPLOAD_TTL_SECONDS: String(7 * 86400 + 1) })).toEqual([
        'UPLOAD_TTL_SECONDS: with STORAGE=azure at most 604800 (7 days: Azure discards the blocks of an unfinished upload a week after the last one); got 604801',
      ]);
    });

    it('never repeats a secret it refuses', () => {
      const key = 'not base64 but secret!';
      const found = problemsOf({
        STORAGE: 'azure',
        AZURE_CONTAINER: 'uploads',
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_KEY: key,
      });
      expect(found).toEqual([
        'AZURE_STORAGE_KEY: must be an account key as Azure shows it (base64) (the value is not shown: it is a secret)',
      ]);
      const short = problemsOf({ AUTH_JWT_SECRET: 'short-secret' }).join('\n');
      expect(short).toContain('AUTH_JWT_SECRET: must be at least 32 characters');
      expect(short).not.toContain('short-secret');
    });
  });
});
