import { rollback } from '../../host/rollback.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION, LOCK_WAIT_OPTION, REBOOT_OPTION } from '../options.js';
import { deployLine } from './common.js';
import { sysrootOf, verb } from './index.js';
import { reboot } from './reboot.js';

export default verb({
  options: { reboot: REBOOT_OPTION, json: JSON_OPTION, 'lock-wait': LOCK_WAIT_OPTION },
  async run(o) {
    const r = await rollback({ sysroot: sysrootOf(o), env: nodeHostEnv(), lockWait: o.lockWait, onEvent: o.json ? undefined : deployLine });
    if (o.json) printDocument('RollbackResult', r);
    else write(`Moving '${r.to}' to be first deployment; '${r.from}' is now the rollback.\n`);
    if (o.reboot) reboot(sysrootOf(o));
  },
});
