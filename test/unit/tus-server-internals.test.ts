import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * What this server relies on in @tus/server beyond its documented API, each
 * found in the installed code as it stands: an upgrade that changes one fails
 * here, naming what would break. docs/architecture.md lists the same items.
 */
const INTERNALS: ReadonlyArray<{ name: string; file: string; code: RegExp; breaks: string }> = [
  {
    name: 'the misspelled concatentation extension',
    file: 'handlers/PostHandler.js',
    code: /upload-concat'\) && !this\.store\.hasExtension\('concatentation'\)/,
    breaks: 'partial uploads (Upload-Concat: partial) get 501',
  },
  {
    name: 'a creation reads no body without Content-Type',
    file: 'handlers/PostHandler.js',
    code: /if \(validateHeader\('content-type', req\.headers\.get\('content-type'\)\)\) \{\s*const bodyMaxSize/,
    breaks: 'a creation body would go through @tus/server instead of the one write path (TrackedStore.write throws)',
  },
  {
    name: 'the upload hooked is the upload created',
    file: 'handlers/PostHandler.js',
    code: /onUploadCreate\(req, upload\)[\s\S]*?this\.store\.create\(upload\)/,
    breaks: 'metadata from the pre-create hook would not be recorded',
  },
  {
    name: 'a creation is read back once, right after it is made',
    file: 'handlers/PostHandler.js',
    code: /this\.store\.create\(upload\)[\s\S]*?this\.store\.getUpload\(upload\.id\)/,
    breaks: 'TrackedStore.getUpload answers only for the creation it just made (Upload-Expires on 201)',
  },
  {
    name: 'callbacks get the very Request handed to handleWeb',
    file: 'handlers/PostHandler.js',
    code: /this\.options\.namingFunction\(req, metadata\)/,
    breaks: 'namingFunction, maxSize, onUploadCreate and onResponseError could not find their request (tus-server.ts)',
  },
  {
    name: 'GET without a read method is 404',
    file: 'handlers/GetHandler.js',
    code: /if \(!\('read' in this\.store\)\) \{\s*throw ERRORS\.FILE_NOT_FOUND/,
    breaks: 'GET of the endpoint (not an upload URL) would reach the store',
  },
];

const dist = path.dirname(createRequire(import.meta.url).resolve('@tus/server'));

describe('what we rely on in @tus/server', () => {
  it.each(INTERNALS)('$name ($file)', ({ file, code, breaks }) => {
    const text = readFileSync(path.join(dist, file), 'utf8');
    expect(code.test(text), `gone from @tus/server: ${breaks}`).toBe(true);
  });

  it('is listed in docs/architecture.md, item by item', () => {
    const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
    for (const { name } of INTERNALS) expect(doc, name).toContain(name);
  });
});
