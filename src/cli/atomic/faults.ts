/**
 * $OSTREE_TS_TEST_FAULT for the atomic verbs: the sysroot's fault points (the repository's are left to it).
 * $OSTREE_TS_TEST_TRACE=1: each sysroot fault point reached is printed on stderr as it is reached
 * (`ostree-ts: write point NAME (N)`), once the write before it is durable: the progress markers a test that
 * cuts a machine's power reads, to cut it between two known writes.
 */
import { FAULT_POINTS } from '../../repo/fault-points.js';
import { parseSysrootFaults, type SysrootFaultPoint, type SysrootFaults } from '../../sysroot/faults.js';

export function sysrootFaults(): SysrootFaults | undefined {
  const list = process.env.OSTREE_TS_TEST_FAULT ?? '';
  const trace = process.env.OSTREE_TS_TEST_TRACE === '1'
    ? (point: SysrootFaultPoint, index: number) => { process.stderr.write(`ostree-ts: write point ${point} (${index})\n`); }
    : undefined;
  return list.trim() || trace ? parseSysrootFaults(list, Object.keys(FAULT_POINTS), trace) : undefined;
}
