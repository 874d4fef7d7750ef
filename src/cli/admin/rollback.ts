import { write } from '../common.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { adminVerb, deployProgress, LOCKING, sysrootOf, updater } from './common.js';

export default adminVerb({
  options: { ...LOCKING },
  async run(o) {
    const r = await (await updater()).rollback({ sysroot: sysrootOf(o), env: nodeHostEnv(), lockWait: o.lockWait, onEvent: deployProgress });
    write(`Moving '${r.to}' to be first deployment\n`);
  },
});
