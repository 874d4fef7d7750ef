import type { Argv } from 'yargs';
import { diffRevs } from '../../repo/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'diff <from> <to>';
export const describe = 'Compare the trees of two commits';

export function builder(y: Argv): Argv {
  return y
    .positional('from', { type: 'string' })
    .positional('to', { type: 'string' })
    .option('json', { type: 'boolean', describe: 'Print a JSON document' });
}

export async function handler(argv: GlobalArgs & { from: string; to: string; json?: boolean }): Promise<void> {
  const repo = await openRepo(argv);
  const d = await diffRevs(repo, argv.from, argv.to);
  if (argv.json) {
    write(`${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'TreeDiff', ...d }, null, 2)}\n`);
    return;
  }
  for (const p of d.modified) write(`M    ${p}\n`);
  for (const p of d.removed) write(`D    ${p}\n`);
  for (const p of d.added) write(`A    ${p}\n`);
}
