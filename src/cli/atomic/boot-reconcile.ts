import { bootReconcile } from '../../host/boot-reconcile.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION } from '../options.js';
import { sysrootFaults } from './faults.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: { json: JSON_OPTION },
  examples: [['$0 boot-reconcile', 'Early at boot: if the bootloader fell back, mark the update failed, quarantine it and make the running deployment the default']],
  details: 'Run early at every boot (atomic-boot-reconcile.service). With --json: a BootReconcileResult document.',
  async run(o) {
    const r = await bootReconcile({ sysroot: sysrootOf(o), env: nodeHostEnv(), faults: sysrootFaults() });
    if (o.json) printDocument('BootReconcileResult', r);
    else if (r.action === 'fell-back') write(`The bootloader fell back from ${r.failed}: ${r.reason}. It is marked failed, its commit quarantined, and ${r.booted} is the default again.\n`);
    else write(`Nothing to reconcile: ${r.reason}.\n`);
  },
});
