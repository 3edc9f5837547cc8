import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderConfigReference } from '../../src/config.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function between(start: string, end: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  expect(from, `README has ${start}`).toBeGreaterThan(-1);
  expect(to, `README has ${end}`).toBeGreaterThan(from);
  return readme.slice(from + start.length, to).trim();
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

describe('README', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  it('walk-through runs as written and prints what it says', async () => {
    const base = await ctx.listen();
    const block = between('<!-- walkthrough:start -->', '<!-- walkthrough:end -->');
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

  it('configuration table is the one generated from the schema', () => {
    expect(between('<!-- config:start -->', '<!-- config:end -->')).toBe(renderConfigReference());
  });

  it('shows the two commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
});
