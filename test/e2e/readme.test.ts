import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { renderConfigReference } from '../../src/config/reference.js';
import { renderErrorReference } from '../../src/errors/reference.js';
import { signatureHeader } from '../../src/webhooks/signature.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/** A documentation file, by its path from the repository's root. */
const page = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const readme = page('README.md');

function between(file: string, start: string, end: string): string {
  const text = page(file);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  expect(from, `${file} has ${start}`).toBeGreaterThan(-1);
  expect(to, `${file} has ${end}`).toBeGreaterThan(from);
  return text.slice(from + start.length, to).trim();
}

/** `# → text` lines of the script, as patterns (`…` matches anything). */
function expectations(script: string): RegExp[] {
  return script
    .split('\n')
    .filter((line) => line.startsWith('# → '))
    .map((line) => {
      const escaped = line.slice(4).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return new RegExp(`^${escaped.replaceAll('…', '.*')}$`);
    });
}

describe('README and the docs/ pages it links', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  it('walk-through runs as written and prints what it says', async () => {
    const base = await ctx.listen();
    const block = between('README.md', '<!-- walkthrough:start -->', '<!-- walkthrough:end -->');
    const script = block.replace(/^```bash\n/, '').replace(/\n```$/, '');
    // Asynchronously: the server answering curl runs in this process. --norc: bash reads
    // /etc/bash.bashrc when its stdin is a socket, as it can be under the test runner.
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'bash',
        ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script.replaceAll('http://localhost:1080', base)],
        { timeout: 20_000 },
        (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.replaceAll(base, 'http://localhost:1080').split('\n');
    const expected = expectations(script);
    expect(expected.length).toBeGreaterThanOrEqual(9);
    let at = 0;
    for (const pattern of expected) {
      const found = lines.findIndex((line, i) => i >= at && pattern.test(line.trim()));
      expect(found, `output line matching ${pattern} in:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(at);
      at = found + 1;
    }
  });

  it('configuration table (docs/configuration.md) is the one generated from the schema', () => {
    expect(between('docs/configuration.md', '<!-- config:start -->', '<!-- config:end -->')).toBe(
      renderConfigReference(),
    );
  });

  it('error table (docs/errors.md) is the one generated from the error registry', () => {
    expect(between('docs/errors.md', '<!-- errors:start -->', '<!-- errors:end -->')).toBe(renderErrorReference());
  });

  it("webhook receiver's signature check (docs/webhooks.md) accepts the server's signatures and refuses anything else", async () => {
    const block = between('docs/webhooks.md', '<!-- webhook-verify:start -->', '<!-- webhook-verify:end -->');
    const source = block.replace(/^```js\n/, '').replace(/\n```$/, '');
    const file = path.join(mkdtempSync(path.join(inject('tmpRoot'), 'readme-')), 'verify.mjs');
    writeFileSync(file, source);
    const { isGenuineWebhook } = (await import(pathToFileURL(file).href)) as {
      isGenuineWebhook: (body: string, header: string | undefined, secret: string) => boolean;
    };
    const body = JSON.stringify({ id: 'x.completed', type: 'upload.completed' });
    const header = signatureHeader('s3cret', body);
    expect(isGenuineWebhook(body, header, 's3cret')).toBe(true);
    expect(isGenuineWebhook(`${body} `, header, 's3cret')).toBe(false);
    expect(isGenuineWebhook(body, header, 'another')).toBe(false);
    expect(isGenuineWebhook(body, signatureHeader('s3cret', body, Date.now() - 600_000), 's3cret')).toBe(false);
    expect(isGenuineWebhook(body, undefined, 's3cret')).toBe(false);
  });

  it('embedding example (docs/embedding.md) imports only what the package exports', async () => {
    const embedding = page('docs/embedding.md');
    const start = embedding.indexOf('# Embedding it in your own Express app');
    expect(start, 'docs/embedding.md has its title').toBeGreaterThan(-1);
    const example = /```ts\n([\s\S]*?)\n```/.exec(embedding.slice(start))?.[1] ?? '';
    const names = /import \{([^}]*)\} from 'tus-redis-server'/.exec(example)?.[1] ?? '';
    const imported = names
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    expect(imported.length).toBeGreaterThanOrEqual(5);
    const exported = await import('../../src/index.js');
    for (const name of imported) expect(exported, name).toHaveProperty(name);
  });

  it('shows the two commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
});
