import type { Argv } from 'yargs';
import { prune } from '../../repo/index.js';
import { last, openRepo, parseTimestamp, write, type GlobalArgs } from '../common.js';

export const command = 'prune';
export const describe = 'Delete unreachable objects';

export function builder(y: Argv): Argv {
  return y
    .option('refs-only', { type: 'boolean', describe: 'Keep only what refs reach' })
    .option('depth', { type: 'number', describe: 'History depth to keep from each ref (-1 = all, 0 = the ref only)' })
    .option('keep-younger-than', { type: 'string', describe: 'Delete commits older than this date (ref tips are kept)' })
    .option('no-prune', { type: 'boolean', describe: 'Only report what would be deleted' })
    .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
    .example('$0 --repo=repo prune --refs-only --depth=0', 'Keep only what the refs\' own commits need');
}

export async function handler(argv: GlobalArgs & {
  refsOnly?: boolean; depth?: number | number[]; keepYoungerThan?: string | string[]; noPrune?: boolean; json?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  const kyt = last(argv.keepYoungerThan);
  const r = await prune(repo, {
    refsOnly: argv.refsOnly,
    depth: last(argv.depth),
    keepYoungerThan: kyt !== undefined ? parseTimestamp(kyt, '--keep-younger-than') : undefined,
    noPrune: argv.noPrune,
  });
  if (argv.json) {
    write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  write(`Total objects: ${r.total}\n`);
  if (r.deleted === 0) write('No unreachable objects\n');
  else if (argv.noPrune) write(`Would delete: ${r.deleted} objects, ${r.bytesFreed} bytes\n`);
  else write(`Deleted ${r.deleted} objects, ${r.bytesFreed} bytes freed\n`);
}
