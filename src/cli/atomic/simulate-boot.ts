import { simulateBoot, type SimulatedBoot } from '../../host/simulate-boot.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { flag, JSON_OPTION, LOCK_WAIT_OPTION } from '../options.js';
import { sysrootFaults } from './faults.js';
import { checkLine, renderHealthCheck } from './health-check.js';
import { sysrootOf, verb } from './index.js';

function render(r: SimulatedBoot): string {
  const tries = r.triesBefore === null ? 'not counted' : `tries ${r.triesBefore} → ${r.triesAfter}`;
  let out = `Booted entry ${r.entry} (${r.backend}): deployment ${r.deployment}, ${tries}${r.fellBack ? ', a fallback from the default' : ''}.\n`;
  if (!r.reachedUserspace) return `${out}The boot did not reach userspace (--fail-boot): no reconcile, no checks.\n`;
  if (r.reconcile?.action === 'fell-back') out += `Reconcile: ${r.reconcile.failed} failed (${r.reconcile.reason}); ${r.reconcile.booted} is the default again.\n`;
  if (r.healthCheck) out += renderHealthCheck(r.healthCheck);
  if (r.reboot) out += 'A reboot was asked for: simulate the next boot.\n';
  return out;
}

export default verb({
  options: {
    'fail-boot': flag('The kernel or initramfs never reaches userspace: the bootloader spends its try, nothing else runs'),
    json: JSON_OPTION,
    'lock-wait': LOCK_WAIT_OPTION,
  },
  examples: [
    ['$0 --sysroot=/mnt/sysroot simulate-boot', 'Boot the sysroot once as its bootloader would, then reconcile and run the health checks'],
    ['$0 --sysroot=/mnt/sysroot simulate-boot --fail-boot --json', 'A boot that never reaches userspace'],
  ],
  details: 'One boot the way the configured bootloader (atomic.conf [boot] backend) makes it: systemd-boot\'s choice (entries with no tries left '
    + 'last, then sort-key, version descending, file name; loader.conf default) and its counter rename, or GRUB with greenboot\'s grubenv rules. '
    + 'Then boot-reconcile and health-check run with that deployment as the booted one; the checks run in the deployment\'s root with '
    + 'ATOMIC_DEPLOYMENT (its directory), ATOMIC_DEPLOYMENT_ID, ATOMIC_STATEROOT and ATOMIC_SYSROOT set. A reboot they ask for is reported, '
    + 'not made. With --json: a SimulatedBoot document (entry, triesBefore, triesAfter, fellBack, checks, verdict).',
  async run(o) {
    const r = await simulateBoot({
      sysroot: sysrootOf(o), env: nodeHostEnv(), failBoot: o.failBoot, lockWait: o.lockWait, faults: sysrootFaults(), onCheck: o.json ? undefined : checkLine,
    });
    if (o.json) printDocument('SimulatedBoot', r);
    else write(render(r));
  },
});
