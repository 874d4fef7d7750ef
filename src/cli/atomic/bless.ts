import { bless, BLESS_VERBS, type BlessResult, type BlessVerb } from '../../host/bless.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION, LOCK_WAIT_OPTION, optionalArg } from '../options.js';
import { sysrootFaults } from './faults.js';
import { sysrootOf, verb } from './index.js';

const DONE: Record<BlessResult['status'], string> = {
  good: 'marked good: its boot counter is removed and the bootloader keeps booting it',
  bad: 'marked bad: the bootloader boots another entry next, and the reconcile there quarantines its commit',
  indeterminate: 'indeterminate again: its counter is back and the next boot is judged',
  dirty: 'dirty',
  clean: 'clean',
};

export default verb({
  positionals: { action: optionalArg(`One of ${BLESS_VERBS.join(', ')} (default status)`) },
  options: { json: JSON_OPTION, 'lock-wait': LOCK_WAIT_OPTION },
  examples: [
    ['$0 bless', 'Where the boot counting of this boot stands: clean, indeterminate, dirty, good or bad'],
    ['$0 bless good', 'Bless the booted deployment by hand (what a passed health check does)'],
    ['$0 bless bad', 'Mark the booted deployment bad: the next boot falls back'],
  ],
  details: "systemd-bless-boot's verbs, for the booted deployment, on the same boot entries (or grubenv) and record as the health checks. "
    + 'status prints one word: clean (this boot is not counted), indeterminate (counted, tries left, not judged), dirty (counted, no try left, '
    + 'not judged), good or bad. indeterminate undoes good or bad: the entry gets back the counted name the bootloader gave it at this boot '
    + '(EFI variable LoaderBootCountPath). With --json: a BlessResult document.',
  async run(o) {
    const action = (o.action ?? 'status') as BlessVerb;
    const r = await bless(action, { sysroot: sysrootOf(o), env: nodeHostEnv(), lockWait: o.lockWait, faults: sysrootFaults() });
    if (o.json) printDocument('BlessResult', r);
    else if (action === 'status') write(`${r.status}\n`);
    else write(`Deployment ${r.deployment}: ${r.changed ? DONE[r.status] : `already ${r.status}, nothing changed`}.\n`);
  },
});
