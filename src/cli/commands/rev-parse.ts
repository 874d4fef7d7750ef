import type { Argv } from 'yargs';
import { resolveRev } from '../../repo/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'rev-parse <rev>';
export const describe = 'Output the commit checksum a rev names';

export function builder(y: Argv): Argv {
  return y.positional('rev', { type: 'string', describe: 'Ref, REMOTE:REF, checksum or prefix, optionally with ^ suffixes' });
}

export async function handler(argv: GlobalArgs & { rev: string }): Promise<void> {
  const repo = await openRepo(argv);
  write(`${await resolveRev(repo, argv.rev)}\n`);
}
