/**
 * Preflight: named checks, run in order before an update changes anything.
 * Each lives in its own file and is listed here once; a new check is one
 * more file and one more line. The first that fails stops the update with
 * E_PREFLIGHT naming it (`data.check`), and nothing has changed by then.
 */
import { Codes, OstreeTsError } from '../../errors/index.js';
import { bootSpace } from './boot-space.js';
import type { CheckResult, CheckStage, PreflightCheck, PreflightContext } from './context.js';
import { downgrade } from './downgrade.js';
import { etcMerge } from './etc-merge.js';
import { quarantine } from './quarantine.js';
import { repoSpace } from './repo-space.js';
import { signature } from './signature.js';

export * from './context.js';

/** Every check, in the order they run (their stages in order, too). */
export const CHECKS: readonly PreflightCheck[] = [signature, downgrade, quarantine, repoSpace, bootSpace, etcMerge];

/** A refused preflight check: the error names it. */
export function refused(r: CheckResult, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.PREFLIGHT, `Preflight check '${r.check}' failed: ${r.detail} Nothing was changed.`, { check: r.check, ...data });
}

/**
 * Run the checks of one stage in order, handing each result to `onResult`
 * as it comes; the first that fails is thrown (after it was handed over).
 */
export async function runPreflight(stage: CheckStage, ctx: PreflightContext, onResult: (r: CheckResult) => void, checks: readonly PreflightCheck[] = CHECKS): Promise<void> {
  for (const c of checks) {
    if (c.stage !== stage) continue;
    const r = await c.run(ctx);
    onResult(r);
    if (!r.ok) throw refused(r, { refspec: ctx.refspec });
  }
}
