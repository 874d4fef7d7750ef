import { update } from '../../host/upgrade.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { arg, flag } from '../options.js';
import { updateLine } from './common.js';
import { sysrootOf, verb } from './index.js';
import { finish, UPDATE_OPTIONS } from './upgrade.js';

export default verb({
  positionals: { refspec: arg('REMOTE:REF to follow from now on') },
  options: {
    'allow-downgrade': flag('Accept a commit older than the running one'),
    ...UPDATE_OPTIONS,
  },
  examples: [['$0 rebase origin:os/x86_64/testing', 'Move this host to the testing branch']],
  async run(o) {
    const r = await update({
      sysroot: sysrootOf(o), env: nodeHostEnv(), osname: o.os, rebase: o.refspec, allowDowngrade: o.allowDowngrade,
      lockWait: o.lockWait, onEvent: o.json ? undefined : updateLine,
    });
    return finish(r, o);
  },
});
