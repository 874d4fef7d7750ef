import type { Argv } from 'yargs';
import { update, type UpdateResult } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { asList, last, write } from '../common.js';
import { json, jsonOption, lockOption, renderUpdate, sysrootOf, updateLine, type AtomicArgs } from './common.js';
import { reboot } from './reboot.js';

export const command = 'upgrade';
export const describe = 'Fetch the newest commit of the followed ref, check it, deploy it beside the running one and make it the boot default';

export function builder(y: Argv): Argv {
  return y
    .option('check', { type: 'boolean', describe: 'Only say whether there is an update and how much it downloads (exit 77 when there is none)' })
    .option('preview', { type: 'boolean', describe: 'Download the update and list the files that change; deploy nothing' })
    .option('reboot', { alias: 'r', type: 'boolean', describe: 'Reboot into the new deployment once it is the default' })
    .option('allow-downgrade', { type: 'boolean', describe: 'Accept a commit older than the running one' })
    .option('os', { type: 'string', describe: 'The stateroot (default: the booted one, else the default deployment\'s)' })
    .option('karg', { type: 'string', describe: 'Set a kernel argument on the new deployment (KEY=VALUE); repeatable' })
    .option('json', jsonOption)
    .option('lock-wait', lockOption)
    .example('$0 upgrade --check', 'Is there an update, and how big?')
    .example('$0 --sysroot=/mnt/sysroot upgrade', 'Deploy the update; the current default becomes the rollback');
}

interface Args extends AtomicArgs { check?: boolean; preview?: boolean; reboot?: boolean; allowDowngrade?: boolean; os?: string | string[]; karg?: string | string[] }

export async function handler(argv: Args): Promise<void> {
  const r = await update({
    sysroot: sysrootOf(argv), env: nodeHostEnv(), osname: last(argv.os), check: argv.check, preview: argv.preview, allowDowngrade: argv.allowDowngrade,
    karg: asList(argv.karg), lockWait: argv.lockWait, onEvent: argv.json ? undefined : updateLine,
  });
  finish(r, argv);
}

export function finish(r: UpdateResult, argv: Args): void {
  if (argv.json) json(r);
  else write(renderUpdate(r));
  if (argv.check && r.outcome === 'no-update') process.exitCode = 77;
  if (argv.reboot && r.outcome === 'updated') reboot(sysrootOf(argv));
}
