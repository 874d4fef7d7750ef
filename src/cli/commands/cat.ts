import type { Argv } from 'yargs';
import { pipeline } from 'node:stream/promises';
import { openPath } from '../../repo/index.js';
import { openRepo, type GlobalArgs } from '../common.js';

export const command = 'cat <commit> <paths..>';
export const describe = 'Concatenate contents of files in a commit';

export function builder(y: Argv): Argv {
  return y.positional('commit', { type: 'string' }).positional('paths', { type: 'string', array: true });
}

export async function handler(argv: GlobalArgs & { commit: string; paths: string[] }): Promise<void> {
  const repo = await openRepo(argv);
  for (const p of argv.paths) {
    const s = await openPath(repo, argv.commit, p);
    await pipeline(s, process.stdout, { end: false });
  }
}
