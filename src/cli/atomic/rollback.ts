import type { Argv } from 'yargs';
import { rollback } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { write } from '../common.js';
import { deployLine, json, jsonOption, lockOption, sysrootOf, type AtomicArgs } from './common.js';
import { reboot } from './reboot.js';

export const command = 'rollback';
export const describe = 'Make the rollback deployment the boot default again (the current default becomes the rollback)';

export function builder(y: Argv): Argv {
  return y
    .option('reboot', { alias: 'r', type: 'boolean', describe: 'Reboot into it' })
    .option('json', jsonOption)
    .option('lock-wait', lockOption);
}

export async function handler(argv: AtomicArgs & { reboot?: boolean }): Promise<void> {
  const r = await rollback({ sysroot: sysrootOf(argv), env: nodeHostEnv(), lockWait: argv.lockWait, onEvent: argv.json ? undefined : deployLine });
  if (argv.json) json(r);
  else write(`Moving '${r.to}' to be first deployment; '${r.from}' is now the rollback.\n`);
  if (argv.reboot) reboot(sysrootOf(argv));
}
