import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docs = readdirSync(path.join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const pages = ['README.md', ...docs];

/** The lines of a Markdown file outside fenced code blocks, where its headings and links are. */
function proseLines(file: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of readFileSync(path.join(root, file), 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** A heading's anchor as GitHub makes it: lowercase, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replaceAll('`', '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replaceAll(' ', '-');
}

/** The anchors of a file's headings; a repeated heading gets -1, -2, … as on GitHub. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(file)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative links (`[text](target)`, not in code), with the file they are in. */
function relativeLinks(file: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(file)) {
    const text = line.replace(/`[^`]*`/g, '');
    for (const match of text.matchAll(/\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1] as string;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      targets.push(target);
    }
  }
  return targets;
}

describe('documentation', () => {
  it('keeps README.md at 12 KB or less', () => {
    const size = statSync(path.join(root, 'README.md')).size;
    expect(size, `README.md is ${size} bytes`).toBeLessThanOrEqual(12 * 1024);
  });

  it('has relative links only to files and headings that exist', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of pages) {
      for (const target of relativeLinks(file)) {
        checked++;
        const [pathPart = '', anchor] = target.split('#', 2);
        const linked = pathPart === '' ? file : path.posix.join(path.posix.dirname(file), decodeURI(pathPart));
        if (!existsSync(path.join(root, linked))) {
          broken.push(`${file}: ${target} (no file ${linked})`);
        } else if (anchor !== undefined && !(linked.endsWith('.md') && anchors(linked).has(anchor))) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${linked})`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(docs.length);
  });

  it('links every page in docs/ from the README', () => {
    const linked = new Set(relativeLinks('README.md').map((target) => target.split('#')[0]));
    expect(docs.length).toBeGreaterThan(0);
    for (const page of docs) expect([...linked], page).toContain(page);
  });
});
