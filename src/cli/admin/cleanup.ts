import { adminVerb, LOCKING, sysrootOf, updater } from './common.js';

export default adminVerb({
  options: { ...LOCKING },
  async run(o) {
    await (await updater()).cleanup({ sysroot: sysrootOf(o), lockWait: o.lockWait });
  },
});
