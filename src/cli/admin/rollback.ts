import { write } from '../common.js';
import { adminVerb, deployProgress, LOCKING, sysrootOf, updater } from './common.js';

export default adminVerb({
  options: { ...LOCKING },
  async run(o) {
    const r = await (await updater()).rollback({ sysroot: sysrootOf(o), lockWait: o.lockWait, onEvent: deployProgress });
    write(`Moving '${r.to}' to be first deployment\n`);
  },
});
