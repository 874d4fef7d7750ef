import { write } from '../common.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { arg } from '../options.js';
import { adminVerb, sysrootOf, updateProgress, updater } from './common.js';
import { UPDATE_OPTIONS } from './upgrade.js';
import { reboot } from '../atomic/reboot.js';

export default adminVerb({
  positionals: { ref: arg('REMOTE:REF, or REF on the current remote') },
  options: UPDATE_OPTIONS,
  async run(o) {
    const r = await (await updater()).update({
      sysroot: sysrootOf(o), env: nodeHostEnv(), osname: o.os, rebase: o.ref, allowDowngrade: o.allowDowngrade, lockWait: o.lockWait, onEvent: updateProgress,
    });
    if (r.outcome === 'no-update') write('No update available.\n');
    else if (r.outcome === 'updated' && o.reboot) reboot(sysrootOf(o));
  },
});
