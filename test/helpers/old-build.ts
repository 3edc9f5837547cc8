import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');

/**
 * The source tree of an older commit of this repository, unpacked into `dir`
 * (git archive) beside this one's node_modules, ready for startServerProcess
 * with `{ cwd }`: old and new instances side by side, as during an upgrade.
 * It needs the repository's history: a shallow clone without `commit` fails
 * here, saying so.
 */
export async function olderBuild(commit: string, dir: string): Promise<string> {
  await run('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: repo }).catch(() => {
    throw new Error(`commit ${commit} is not in this clone (a shallow clone?): fetch the history to run this test`);
  });
  mkdirSync(dir, { recursive: true });
  await run('sh', ['-c', `git archive --format=tar ${commit} | tar -x -C "${dir}"`], { cwd: repo });
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}
