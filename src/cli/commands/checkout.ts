import type { Argv } from 'yargs';
import { checkout } from '../../repo/index.js';
import { last, openRepo, type GlobalArgs } from '../common.js';

export const command = 'checkout <commit> [destination]';
export const describe = 'Check out a commit into a filesystem tree';

export function builder(y: Argv): Argv {
  return y
    .positional('commit', { type: 'string', describe: 'Ref or checksum' })
    .positional('destination', { type: 'string', describe: 'Directory to create (default: the commit argument)' })
    .option('user-mode', { alias: 'U', type: 'boolean', describe: 'Do not change file ownership or set xattrs (unprivileged)' })
    .option('union', { type: 'boolean', describe: 'Keep existing directories, overwrite existing files' })
    .option('subpath', { type: 'string', describe: 'Check out only this path of the commit' })
    .option('require-hardlinks', { alias: 'H', type: 'boolean', describe: 'Fail rather than copy when a hardlink is impossible' })
    .option('force-copy', { alias: 'C', type: 'boolean', describe: 'Never hardlink; copy every file' })
    .example('$0 --repo=repo checkout -U os/x86_64 rootfs', 'Check out as an unprivileged user');
}

export async function handler(argv: GlobalArgs & {
  commit: string; destination?: string; userMode?: boolean; union?: boolean; subpath?: string | string[];
  requireHardlinks?: boolean; forceCopy?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  await checkout(repo, argv.commit, argv.destination ?? argv.commit, {
    userMode: argv.userMode, union: argv.union, subpath: last(argv.subpath), requireHardlinks: argv.requireHardlinks, forceCopy: argv.forceCopy,
  });
}
