import { readKargs, setKargs } from '../../host/kargs.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION, list, LOCK_WAIT_OPTION, str } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: {
    append: list('Append KEY[=VALUE]'),
    replace: list('Set KEY=VALUE, replacing any KEY'),
    delete: list('Delete KEY or KEY=VALUE'),
    index: str('Deployment index (default: the booted one, else the default)'),
    json: JSON_OPTION,
    'lock-wait': LOCK_WAIT_OPTION,
  },
  examples: [['$0 kargs --append=console=ttyS0 --delete=quiet', 'Change the arguments of the next boot']],
  details: 'With --json: a KernelArguments document (deployment, kernelArguments) when showing them, '
    + 'a KernelArgumentsChange document (previous, kernelArguments) when changing them.',
  async run(o) {
    const index = o.index !== undefined ? Number(o.index) : undefined;
    if (!o.append.length && !o.replace.length && !o.delete.length) {
      const k = await readKargs({ sysroot: sysrootOf(o), env: nodeHostEnv(), index });
      if (o.json) printDocument('KernelArguments', k);
      else write(`${k.kernelArguments ?? ''}\n`);
      return;
    }
    const r = await setKargs({ sysroot: sysrootOf(o), env: nodeHostEnv(), index, append: o.append, replace: o.replace, delete: o.delete, lockWait: o.lockWait });
    if (o.json) printDocument('KernelArgumentsChange', { previous: r.before, kernelArguments: r.after });
    else write(`Kernel arguments: ${r.after}\n`);
  },
});
