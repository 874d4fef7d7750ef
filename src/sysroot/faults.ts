/**
 * Sysroot fault points: the boot writes (probation, blessing, marking
 * failed, the reconcile of the host layer, the ESP copy, the firmware's own
 * rename) stop where asked as if the power had been cut there, so a test
 * proves that every state they can leave is bootable and that the next run
 * completes, deterministically rather than by killing at random moments.
 *
 * Every write step calls `hit(point)` after it is durable. A plan stops at
 *  - `POINT`: the first time that point is reached;
 *  - `POINT#K`: the K-th time it is reached;
 *  - `@N`: the N-th point reached, whatever it is (for walking every gap
 *    between two writes: run once to count them in `reached`, then stop at
 *    `@1`, `@2`, …).
 * Library code never reads them from the environment; the CLI builds the plan.
 */
import { Codes, OstreeTsError } from '../errors/index.js';

/** Each sysroot fault point: what has been written when it is reached. */
export const SYSROOT_FAULT_POINTS = {
  'esp-file': 'one kernel, initramfs or devicetree file has been copied to the ESP and renamed into place',
  'esp-entry': 'one boot entry has been written to the ESP and renamed into place',
  'esp-loader-conf': "the ESP's loader.conf has been replaced",
  'esp-remove-entry': 'one old boot entry has been removed from the ESP',
  'esp-remove-file': 'one kernel directory no entry uses any more has been removed from the ESP',
  'entry-rename': "a boot entry of /boot/loader has been renamed (its counter changed)",
  'esp-entry-rename': 'a boot entry on the ESP has been renamed (its counter changed)',
  'grubenv': 'the grubenv has been replaced',
  'record': 'the boot assessment record has been replaced',
  'deployments': 'a new deployment list has been written (the boot default switched)',
  'reconcile': 'a step of the boot reconcile has been written',
} as const;

export type SysrootFaultPoint = keyof typeof SYSROOT_FAULT_POINTS;

/** A fault point that was asked for was reached: the write stopped there. */
export class SysrootFaultReached extends OstreeTsError {
  constructor(readonly point: SysrootFaultPoint, readonly index: number) {
    super(Codes.FAULT_POINT, `Stopped at sysroot fault point '${point}' (write ${index}), as asked: ${SYSROOT_FAULT_POINTS[point]}. The sysroot is left as a power cut there leaves it.`, { point, index });
    this.name = 'SysrootFaultReached';
  }
}

export class SysrootFaults {
  private readonly stops: Set<string>;
  private readonly counts = new Map<string, number>();
  /** Every point reached so far, in order. */
  readonly reached: SysrootFaultPoint[] = [];

  /** `onHit`: told of every point reached, before a stop there (a trace of the durable writes). */
  constructor(stops: Iterable<string> = [], private readonly onHit?: (point: SysrootFaultPoint, index: number) => void) {
    this.stops = new Set(stops);
  }

  /** A write step is done: stop here when the plan says so. */
  hit(point: SysrootFaultPoint): void {
    this.reached.push(point);
    const n = (this.counts.get(point) ?? 0) + 1;
    this.counts.set(point, n);
    const index = this.reached.length;
    this.onHit?.(point, index);
    if (this.stops.has(`@${index}`) || this.stops.has(`${point}#${n}`) || (n === 1 && this.stops.has(point))) throw new SysrootFaultReached(point, index);
  }
}

/** Call `hit` when there is a plan. */
export function faultHit(faults: SysrootFaults | undefined, point: SysrootFaultPoint): void {
  faults?.hit(point);
}

/**
 * A plan from a comma-separated list (`esp-entry#2,@5`). Names of the
 * repository's fault points are left to it (`skip`); anything else unknown is
 * a usage error naming the points there are.
 */
export function parseSysrootFaults(list: string, skip: Iterable<string> = [], onHit?: (point: SysrootFaultPoint, index: number) => void): SysrootFaults {
  const other = new Set(skip);
  const out: string[] = [];
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (other.has(item)) continue;
    const m = /^(?:@([1-9][0-9]*)|([a-z-]+)(?:#([1-9][0-9]*))?)$/.exec(item);
    if (!m || (m[2] !== undefined && !Object.hasOwn(SYSROOT_FAULT_POINTS, m[2]))) {
      throw new OstreeTsError(Codes.USAGE, `Unknown sysroot fault point '${item}'. Give POINT, POINT#K or @N; the points are: ${Object.keys(SYSROOT_FAULT_POINTS).join(', ')}.`, { point: item });
    }
    out.push(item);
  }
  return new SysrootFaults(out, onHit);
}
