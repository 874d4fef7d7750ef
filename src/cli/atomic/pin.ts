import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { pin } from '../../host/pin.js';
import { write } from '../output.js';
import { args, flag, LOCK_WAIT_OPTION } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  positionals: { index: args('Deployment index, as atomic status lists them', { required: true }) },
  options: { unpin: flag('Unpin instead', { alias: 'u' }), 'lock-wait': LOCK_WAIT_OPTION },
  examples: [['$0 pin 1', 'Keep the rollback deployment']],
  async run(o) {
    for (const i of o.index) {
      if (!/^\d+$/.test(i)) throw new OstreeTsError(Codes.USAGE, `'${i}' is not a deployment index (0, 1, …; see atomic status).`, { index: i });
      const d = await pin({ sysroot: sysrootOf(o), env: nodeHostEnv(), index: Number(i), unpin: o.unpin, lockWait: o.lockWait });
      write(`Deployment ${d.csum}.${d.deployserial} is now ${o.unpin ? 'unpinned' : 'pinned'}\n`);
    }
  },
});
