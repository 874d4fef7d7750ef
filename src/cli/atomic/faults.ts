/** $OSTREE_TS_TEST_FAULT for the atomic verbs: the sysroot's fault points (the repository's are left to it). */
import { FAULT_POINTS } from '../../repo/fault-points.js';
import { parseSysrootFaults, type SysrootFaults } from '../../sysroot/faults.js';

export function sysrootFaults(): SysrootFaults | undefined {
  const list = process.env.OSTREE_TS_TEST_FAULT ?? '';
  return list.trim() ? parseSysrootFaults(list, Object.keys(FAULT_POINTS)) : undefined;
}
