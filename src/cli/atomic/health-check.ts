import { healthCheck, type HealthCheckResult } from '../../host/health-check.js';
import type { CheckRun } from '../../host/checks.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION } from '../options.js';
import { EXIT } from '../report.js';
import { sysrootFaults } from './faults.js';
import { sysrootOf, verb } from './index.js';

/** One line per check, on stderr, as it ends. */
export function checkLine(r: CheckRun): void {
  process.stderr.write(`  ${r.result.toUpperCase().padEnd(12)} ${r.class.padEnd(8)} ${r.name} (${r.seconds.toFixed(1)} s)\n`);
}

const ACTIONS: Record<HealthCheckResult['action'], string> = {
  blessed: 'blessed: it is the good deployment from now on',
  recorded: 'recorded (it was good already)',
  'retry-later': 'inconclusive: no try was used, nothing else changed; the checks run again at the next boot',
  'try-again': 'failed: the attempt is recorded; rebooting so the bootloader tries it again',
  failed: 'failed with no try left: marked failed; rebooting so the bootloader falls back',
  unhealthy: 'failed: recorded (it is not on probation, so there is nothing to fall back to automatically; atomic rollback if it must go)',
};

export function renderHealthCheck(r: HealthCheckResult): string {
  const tries = r.triesLeft !== null ? `, ${r.triesLeft} ${r.triesLeft === 1 ? 'try' : 'tries'} left` : '';
  return `Deployment ${r.deployment}${r.version ? ` (version ${r.version})` : ''}: ${ACTIONS[r.action]}${tries}.\n${r.reason ? `Reason: ${r.reason}\n` : ''}`;
}

/** 0: healthy; 1: a required check failed; 75 (EX_TEMPFAIL): inconclusive. */
export function healthExit(r: Pick<HealthCheckResult, 'verdict'>): number {
  return r.verdict === 'pass' ? EXIT.OK : r.verdict === 'inconclusive' ? EXIT.INCONCLUSIVE : EXIT.FAILURE;
}

export default verb({
  options: { json: JSON_OPTION },
  examples: [['$0 health-check', 'Assess the booted deployment (the atomic-health-check.service does this at every boot)']],
  details: 'Runs the executables in /usr/lib/greenboot/check/{required.d,wanted.d} and /etc/greenboot/check/{required.d,wanted.d} '
    + '(then green.d or red.d), in name order. Exit status 0 of a check passes, the inconclusive code (75 unless atomic.conf says '
    + 'otherwise) cannot tell, anything else fails. All required passed: the deployment is blessed. A required failure: recorded, red.d, '
    + 'then a reboot (atomic.conf [health-check] reboot-command) while it is on probation. Exits 0 when healthy, 1 when a required '
    + 'check failed, 75 when inconclusive. With --json: a HealthCheckResult document.',
  async run(o) {
    const r = await healthCheck({ sysroot: sysrootOf(o), env: nodeHostEnv(), faults: sysrootFaults(), onCheck: o.json ? undefined : checkLine });
    if (o.json) printDocument('HealthCheckResult', r);
    else write(renderHealthCheck(r));
    return healthExit(r);
  },
});
