import { write } from '../common.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { args, flag } from '../options.js';
import { adminVerb, deploymentIndex, LOCKING, sysrootOf, updater } from './common.js';

export default adminVerb({
  positionals: { index: args('Deployment indexes (0 is the default; see admin status)', { required: true }) },
  options: { unpin: flag('Unpin instead', { alias: 'u' }), ...LOCKING },
  async run(o) {
    const { pin } = await updater();
    for (const a of o.index) {
      const d = await pin({ sysroot: sysrootOf(o), env: nodeHostEnv(), index: deploymentIndex(a, 'admin pin'), unpin: o.unpin, lockWait: o.lockWait });
      write(`Deployment ${d.csum}.${d.deployserial} is ${o.unpin ? 'now unpinned' : 'now pinned'}\n`);
    }
  },
});
