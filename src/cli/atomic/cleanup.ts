import type { Argv } from 'yargs';
import { cleanup } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { write } from '../common.js';
import { json, jsonOption, lockOption, sysrootOf, type AtomicArgs } from './common.js';

export const command = 'cleanup';
export const describe = 'Remove deployment directories, kernels and repository objects that no deployment in the boot list needs';

export function builder(y: Argv): Argv {
  return y.option('json', jsonOption).option('lock-wait', lockOption);
}

export async function handler(argv: AtomicArgs): Promise<void> {
  const r = await cleanup({ sysroot: sysrootOf(argv), env: nodeHostEnv(), lockWait: argv.lockWait });
  if (argv.json) json({ apiVersion: 'ostree-ts/v1', kind: 'CleanupResult', ...r });
  else write(`Removed ${r.deploymentsRemoved.length} deployments, ${r.bootDirsRemoved.length} kernels, ${r.prune?.deleted ?? 0} objects (${r.prune?.bytesFreed ?? 0} bytes)\n`);
}
