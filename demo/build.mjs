// Bundles the demo pages' scripts (and tus-js-client) from npm packages into
// dist/demo, next to their HTML and CSS. Run by `npm run build` (so by
// `npm start`); nothing is fetched from a CDN.
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildDemo(out = path.join(here, '..', 'dist', 'demo')) {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [path.join(here, 'uploader.ts'), path.join(here, 'dashboard.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    outdir: out,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'dashboard.html', 'style.css']) cpSync(path.join(here, file), path.join(out, file));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDemo();
