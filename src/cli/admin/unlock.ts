import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { loadSysroot } from '../../sysroot/state.js';
import { flag } from '../options.js';
import { adminVerb, notBooted, sysrootOf } from './common.js';

export default adminVerb({
  options: {
    hotfix: flag('Retain changes across reboots'),
    transient: flag('Mount overlayfs read-only by default'),
  },
  details: 'Makes the booted deployment\'s /usr writable through an overlay (as ostree admin unlock). It needs the running system\'s own deployment: '
    + 'on a sysroot this machine did not boot it fails as ostree does. ostree-ts does not mount the overlay; deploy a changed tree instead.',
  async run(o) {
    const st = await loadSysroot(sysrootOf(o), nodeHostEnv());
    if (!st.booted) throw notBooted();
    throw new OstreeTsError(Codes.USAGE, `Unlocking the booted deployment (an overlay over /usr${o.hotfix ? ', kept across reboots' : ''}) is not supported by ostree-ts: commit the change into a tree and deploy it, or use ostree admin unlock.`, { hotfix: o.hotfix, transient: o.transient });
  },
});
