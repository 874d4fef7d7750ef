import type { Argv } from 'yargs';
import { update } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { last } from '../common.js';
import { jsonOption, lockOption, sysrootOf, updateLine, type AtomicArgs } from './common.js';
import { finish } from './upgrade.js';

export const command = 'deploy <revision>';
export const describe = 'Deploy a version (the commit\'s version) or a commit checksum of the followed ref; older ones are allowed';

export function builder(y: Argv): Argv {
  return y
    .positional('revision', { type: 'string', describe: 'A version such as 2.0, or a commit checksum' })
    .option('reboot', { alias: 'r', type: 'boolean', describe: 'Reboot into it' })
    .option('os', { type: 'string', describe: 'The stateroot' })
    .option('json', jsonOption)
    .option('lock-wait', lockOption)
    .example('$0 deploy 2.0', 'Go to version 2.0 of the followed ref (the origin records it as override-commit)');
}

interface Args extends AtomicArgs { revision: string; reboot?: boolean; os?: string | string[] }

export async function handler(argv: Args): Promise<void> {
  const r = await update({
    sysroot: sysrootOf(argv), env: nodeHostEnv(), osname: last(argv.os), revision: argv.revision, lockWait: argv.lockWait, onEvent: argv.json ? undefined : updateLine,
  });
  finish(r, argv);
}
