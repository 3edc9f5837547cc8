import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The layers, top to bottom: a module may import from its own layer or any
 * below it, never from one above. `main.ts`, `migrate-redis.ts` and `index.ts` are the entry.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['main.ts', 'migrate-redis.ts', 'index.ts'],
  ['app'],
  ['http'],
  ['auth', 'hooks', 'webhooks', 'metrics.ts'],
  ['config'],
  ['uploads'],
  ['redis'],
  ['errors', 'log.ts'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return name.endsWith('.ts') ? [file] : [];
  });
}

/** Every relative import of every source file, as [from, to] paths relative to src/. */
function imports(): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), (match[1] as string).replace(/\.js$/, '.ts'));
      edges.push([path.relative(src, file), path.relative(src, target)]);
    }
  }
  return edges;
}

/** The unit a file belongs to at `depth` folders below `base`: its folder there, or the file itself. */
function unitOf(file: string, base = '', depth = 1): string {
  const rest = path.relative(base, file).split(path.sep);
  return rest.length > depth ? rest.slice(0, depth).join('/') : rest.join('/');
}

function layerOf(file: string): number {
  const unit = unitOf(file);
  const layer = LAYERS.findIndex((units) => units.includes(unit));
  if (layer === -1) throw new Error(`${unit} is in no layer: add it to LAYERS`);
  return layer;
}

/** Cycles between units (strongly connected components with more than one unit). */
function cycles(edges: Array<[string, string]>): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const [from, to] of edges) {
    if (from === to) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    if (!graph.has(to)) graph.set(to, new Set());
    graph.get(from)?.add(to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (stack.includes(to)) {
        low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('layers', () => {
  const edges = imports();

  it('import only downward: entry, app, http, integrations, config, uploads, redis, errors and log', () => {
    const upward = edges
      .filter(([from, to]) => layerOf(to) < layerOf(from))
      .map(([from, to]) => `${from} imports ${to}`);
    expect(upward).toEqual([]);
  });

  it('have no cycles between top-level folders', () => {
    expect(cycles(edges.map(([from, to]) => [unitOf(from), unitOf(to)]))).toEqual([]);
  });

  it('have no cycles between the folders of uploads/', () => {
    const inUploads = edges.filter(([from, to]) => from.startsWith('uploads/') && to.startsWith('uploads/'));
    expect(cycles(inUploads.map(([from, to]) => [unitOf(from, '', 2), unitOf(to, '', 2)]))).toEqual([]);
  });

  it('have no cycles between the folders (and files) inside any folder, at any depth', () => {
    const folders = new Set(['']);
    for (const file of edges.flat()) {
      const parts = file.split('/');
      for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'));
    }
    const found = [...folders].flatMap((folder) => {
      const inside = (file: string) => folder === '' || file.startsWith(`${folder}/`);
      const child = (file: string) => unitOf(file, folder);
      const among = edges.filter(([from, to]) => inside(from) && inside(to));
      return cycles(among.map(([from, to]) => [child(from), child(to)])).map((cycle) => `${folder || 'src'}: ${cycle}`);
    });
    expect(found).toEqual([]);
  });

  it('have no cycles between files', () => {
    expect(cycles(edges)).toEqual([]);
  });

  it('keep the two protocols apart: neither imports the other, and what they share (http/endpoint) imports neither', () => {
    const crossing = edges.filter(
      ([from, to]) =>
        (from.startsWith('http/tus/') && to.startsWith('http/draft/')) ||
        (from.startsWith('http/draft/') && to.startsWith('http/tus/')) ||
        (from.startsWith('http/endpoint/') && (to.startsWith('http/tus/') || to.startsWith('http/draft/'))),
    );
    expect(crossing).toEqual([]);
  });

  it('keep @tus/* to the tus mount (both protocols), the store seam, the locker and the file byte store', () => {
    const users = sourceFiles(src)
      .filter((file) => /from '@tus\//.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(src, file))
      .sort();
    expect(users).toEqual([
      'http/draft/draft-upload.ts',
      'http/errors.ts',
      'http/tus/final-upload.ts',
      'http/tus/tus-headers.ts',
      'http/tus/tus-procedures.ts',
      'http/tus/tus-protocol.ts',
      'http/tus/tus-rules.ts',
      'http/tus/tus-server.ts',
      'uploads/bytes/file-byte-store.ts',
      'uploads/coordination/redis-lock.ts',
      'uploads/coordination/redis-locker.ts',
      'uploads/coordination/upload-lock.ts',
      'uploads/store/tracked-store.ts',
      'uploads/store/tus-upload.ts',
    ]);
  });

  it('keep every source file under 300 lines', () => {
    const long = sourceFiles(src)
      .map((file) => ({ file: path.relative(src, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 300);
    expect(long).toEqual([]);
  });
});
