import { adminVerb, LOCKING, sysrootOf, updater } from './common.js';
import { nodeHostEnv } from '../../io/host-env.js';

export default adminVerb({
  options: { ...LOCKING },
  async run(o) {
    await (await updater()).cleanup({ sysroot: sysrootOf(o), env: nodeHostEnv(), lockWait: o.lockWait });
  },
});
