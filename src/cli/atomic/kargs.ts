import type { Argv } from 'yargs';
import { readKargs, setKargs } from '../../host/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { asList, write } from '../common.js';
import { json, jsonOption, lockOption, sysrootOf, type AtomicArgs } from './common.js';

export const command = 'kargs';
export const describe = 'Show the default deployment\'s kernel arguments, or change them (written as new boot entries, switched atomically)';

export function builder(y: Argv): Argv {
  return y
    .option('append', { type: 'string', describe: 'Append KEY[=VALUE]; repeatable' })
    .option('replace', { type: 'string', describe: 'Set KEY=VALUE, replacing any KEY; repeatable' })
    .option('delete', { type: 'string', describe: 'Delete KEY or KEY=VALUE; repeatable' })
    .option('index', { type: 'string', describe: 'Deployment index (default: the booted one, else the default)' })
    .option('json', jsonOption)
    .option('lock-wait', lockOption)
    .example('$0 kargs --append=console=ttyS0 --delete=quiet', 'Change the arguments of the next boot');
}

interface Args extends AtomicArgs { append?: string | string[]; replace?: string | string[]; delete?: string | string[]; index?: string }

export async function handler(argv: Args): Promise<void> {
  const append = asList(argv.append);
  const replace = asList(argv.replace);
  const del = asList(argv.delete);
  const index = argv.index !== undefined ? Number(argv.index) : undefined;
  if (!append.length && !replace.length && !del.length) {
    const k = await readKargs({ sysroot: sysrootOf(argv), env: nodeHostEnv(), index });
    if (argv.json) json({ apiVersion: 'ostree-ts/v1', kind: 'KernelArguments', ...k });
    else write(`${k.kernelArguments ?? ''}\n`);
    return;
  }
  const r = await setKargs({ sysroot: sysrootOf(argv), env: nodeHostEnv(), index, append, replace, delete: del, lockWait: argv.lockWait });
  if (argv.json) json({ apiVersion: 'ostree-ts/v1', kind: 'KernelArguments', before: r.before, kernelArguments: r.after });
  else write(`Kernel arguments: ${r.after}\n`);
}
