import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const file = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');

/** The Debian packages `.ci/run` installs when missing: its `need PACKAGE CHECK…` lines. */
function packagesCiInstalls(): string[] {
  return [...file('.ci/run').matchAll(/^need (\S+) /gm)].map((m) => m[1] as string);
}

describe("the README's prerequisites", () => {
  it('name every Debian package .ci/run installs, and nothing it does not', () => {
    const packages = packagesCiInstalls();
    expect(packages).toContain('redis-server');
    expect(packages).toContain('swift-proxy');
    expect(packages.length).toBeGreaterThanOrEqual(10);
    const readme = file('README.md');
    const from = readme.indexOf('The tests start the real services they need');
    expect(from).toBeGreaterThan(-1);
    const paragraph = readme.slice(from, readme.indexOf('\n\n', from));
    const named = [...paragraph.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1] as string);
    expect(new Set(named)).toEqual(new Set(packages));
  });

  it('say which Node lines the server runs on, as package.json does', () => {
    const engines = JSON.parse(file('package.json')).engines.node as string;
    expect(engines).toBe('>=20.19.0');
    expect(file('README.md')).toMatch(/Node\.js 22 or 24 .*\n.*Node 20\.19 still works/);
    expect(file('.ci/run')).toMatch(/npx -y -p node@24 /);
  });
});
