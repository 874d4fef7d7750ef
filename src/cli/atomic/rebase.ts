import type { Argv } from 'yargs';
import { update } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { last } from '../common.js';
import { jsonOption, lockOption, sysrootOf, updateLine, type AtomicArgs } from './common.js';
import { finish } from './upgrade.js';

export const command = 'rebase <refspec>';
export const describe = 'Follow another ref (REMOTE:REF, or a local REF) and deploy its newest commit as the boot default';

export function builder(y: Argv): Argv {
  return y
    .positional('refspec', { type: 'string', describe: 'REMOTE:REF to follow from now on' })
    .option('reboot', { alias: 'r', type: 'boolean', describe: 'Reboot into it' })
    .option('allow-downgrade', { type: 'boolean', describe: 'Accept a commit older than the running one' })
    .option('os', { type: 'string', describe: 'The stateroot' })
    .option('json', jsonOption)
    .option('lock-wait', lockOption)
    .example('$0 rebase origin:os/x86_64/testing', 'Move this host to the testing branch');
}

interface Args extends AtomicArgs { refspec: string; reboot?: boolean; allowDowngrade?: boolean; os?: string | string[] }

export async function handler(argv: Args): Promise<void> {
  const r = await update({
    sysroot: sysrootOf(argv), env: nodeHostEnv(), osname: last(argv.os), rebase: argv.refspec, allowDowngrade: argv.allowDowngrade,
    lockWait: argv.lockWait, onEvent: argv.json ? undefined : updateLine,
  });
  finish(r, argv);
}
