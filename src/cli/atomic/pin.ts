import type { Argv } from 'yargs';
import { pin } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { asList, write } from '../common.js';
import { lockOption, sysrootOf, type AtomicArgs } from './common.js';

export const command = 'pin <index..>';
export const describe = 'Pin deployments (by index, 0 = default) so upgrades and cleanup keep them';

export function builder(y: Argv): Argv {
  return y
    .positional('index', { type: 'string', describe: 'Deployment index, as atomic status lists them' })
    .option('unpin', { alias: 'u', type: 'boolean', describe: 'Unpin instead' })
    .option('lock-wait', lockOption)
    .example('$0 pin 1', 'Keep the rollback deployment');
}

export async function handler(argv: AtomicArgs & { index: string | string[]; unpin?: boolean }): Promise<void> {
  for (const i of asList(argv.index)) {
    if (!/^\d+$/.test(i)) throw Object.assign(new Error(`'${i}' is not a deployment index (0, 1, …).`), { usage: true });
    const d = await pin({ sysroot: sysrootOf(argv), env: nodeHostEnv(), index: Number(i), unpin: argv.unpin, lockWait: argv.lockWait });
    write(`Deployment ${d.csum}.${d.deployserial} is now ${argv.unpin ? 'unpinned' : 'pinned'}\n`);
  }
}
