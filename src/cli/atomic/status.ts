import type { Argv } from 'yargs';
import { hostStatus, renderHostStatus } from '../../host/status.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { write } from '../common.js';
import { json, jsonOption, sysrootOf, type AtomicArgs } from './common.js';

export const command = 'status';
export const describe = 'Show the deployments: booted (●), default, rollback, pinned; version, commit, origin, signature';

export function builder(y: Argv): Argv {
  return y
    .option('json', { ...jsonOption, describe: 'The status document as JSON (apiVersion ostree-ts/v1, kind HostStatus; see README)' })
    .example('$0 --sysroot=/mnt/sysroot status', 'What would boot, and what rollback would choose')
    .example('$0 status --json | jq .deployments[0].version', 'The default deployment\'s version');
}

export async function handler(argv: AtomicArgs): Promise<void> {
  const s = await hostStatus({ sysroot: sysrootOf(argv), env: nodeHostEnv() });
  if (argv.json) json(s);
  else write(renderHostStatus(s));
}
