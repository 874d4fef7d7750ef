/**
 * Fault points: named places where a write stops as if the process had died
 * there, so that a test can prove an ordering deterministically instead of
 * killing at random moments (libostree has OSTREE_REPO_TEST_ERROR for this).
 * They are carried by the repository handle (`Repo.open(path, { faults })`);
 * library code never reads them from the environment.
 */
import { Codes, OstreeTsError } from '../errors/index.js';

/** Each fault point, and where it stops. */
export const FAULT_POINTS = {
  'before-commit-rename': 'a transaction has made its other objects durable and visible in objects/, but not yet its commits (and their detached metadata)',
  'before-ref': 'a new commit is stored and durable, but its ref is not yet written',
} as const;

export type FaultPoint = keyof typeof FAULT_POINTS;

/** Reached a fault point that was asked for: the write stopped there, leaving what an interruption leaves. */
export class FaultPointReached extends OstreeTsError {
  constructor(readonly point: FaultPoint) {
    super(Codes.FAULT_POINT, `Stopped at fault point '${point}', as asked: ${FAULT_POINTS[point]}. The repository is left as an interrupted write leaves it.`, { point });
    this.name = 'FaultPointReached';
  }
}

/** Fault points from a comma-separated list (`before-ref,before-commit-rename`). */
export function parseFaultPoints(list: string): FaultPoint[] {
  const out: FaultPoint[] = [];
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!Object.hasOwn(FAULT_POINTS, name)) {
      throw new OstreeTsError(Codes.USAGE, `Unknown fault point '${name}'. The fault points are: ${Object.keys(FAULT_POINTS).join(', ')}.`, { point: name });
    }
    out.push(name as FaultPoint);
  }
  return out;
}
