import { clearQuarantine } from '../../host/quarantine.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION, LOCK_WAIT_OPTION, optionalArg } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  positionals: { commit: optionalArg('The commit (checksum, or a prefix naming one); default: every quarantined commit') },
  options: { json: JSON_OPTION, 'lock-wait': LOCK_WAIT_OPTION },
  examples: [['$0 quarantine clear 3f2a9c', 'Let updates deploy that commit again']],
  async run(o) {
    const removed = await clearQuarantine({ sysroot: sysrootOf(o), env: nodeHostEnv(), commit: o.commit, lockWait: o.lockWait });
    if (o.json) printDocument('QuarantineClear', { removed });
    else write(removed.length ? removed.map((e) => `Cleared ${e.commit}${e.version ? ` (version ${e.version})` : ''}\n`).join('') : 'No commit was quarantined.\n');
  },
});
