// Builds dist/ (npm run build) unless it is newer than every source: run by `npm start` and `npm pack`, so a start
// after a checkout or an edit builds, and any other start takes a second, not the 5-8 s of a build.
// Sources: src/, demo/, the TypeScript configs, package.json and its lock. dist/.built marks the last good build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.built');
const SOURCES = ['src', 'demo', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The latest modification time under `file` (a file, or a folder walked whole). */
function newest(file) {
  if (!existsSync(file)) return 0;
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(file).reduce((latest, name) => Math.max(latest, newest(path.join(file, name))), stat.mtimeMs);
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(...SOURCES.map((source) => newest(path.join(root, source))));
if (built > changed) {
  console.error('dist/ is up to date with the sources');
} else {
  console.error(built === 0 ? 'building dist/' : 'building dist/: sources changed since the last build');
  // The stamp says when the build began: a source edited while it ran is newer, and the next start builds again.
  const began = new Date();
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  writeFileSync(stamp, `${began.toISOString()}\n`);
  utimesSync(stamp, began, began);
}
