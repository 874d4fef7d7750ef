/**
 * What a preflight check is and what it looks at. A check reads; it never
 * changes the sysroot, its repository or a ref.
 */
import { InternalError, type OstreeTsError } from '../../errors/index.js';
import type { Commit } from '../../format/objects.js';
import type { Repo } from '../../repo/repo.js';
import type { VerifyResult } from '../../sign/policy.js';
import type { Deployment, SysrootState } from '../../sysroot/state.js';

export type CheckName = 'signature' | 'downgrade' | 'quarantine' | 'repo-space' | 'boot-space' | 'etc-merge';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  /** Why it passed, or why not and what to do about it. */
  detail: string;
}

/**
 * When a check runs, in this order: `target` as soon as the commit is known
 * (even when it is what runs already); `update` once it is known to differ
 * (also under --check); `fetch` before its objects are fetched; `deploy` on
 * the fetched tree, before anything is deployed.
 */
export type CheckStage = 'target' | 'update' | 'fetch' | 'deploy';

export const STAGES: readonly CheckStage[] = ['target', 'update', 'fetch', 'deploy'];

export interface PreflightCheck {
  name: CheckName;
  stage: CheckStage;
  run(ctx: PreflightContext): Promise<CheckResult>;
}

export interface PreflightTarget {
  checksum: string;
  commit: Commit;
}

export interface PreflightContext {
  /** The sysroot as loaded (its `env` is the host: free space, what booted). */
  st: SysrootState;
  repo: Repo;
  osname: string;
  /** The deployment the new one inherits from (origin, kernel arguments, /etc). */
  merge: Deployment;
  /** What runs: the booted deployment of this stateroot, else the merge deployment. */
  current: Deployment;
  /** The followed refspec (REMOTE:REF or REF), and its parts. */
  refspec: string;
  /** The followed ref's remote (null: a ref of the sysroot's own repository). */
  remote: string | null;
  ref: string;
  /** The commit to deploy; null only when its signatures were refused (and only `signature` runs). */
  target: PreflightTarget | null;
  /** The remote's signature policy on it: what it verified, or why it refused. */
  verification: { verified: VerifyResult | null; refusal: OstreeTsError | null };
  allowDowngrade: boolean;
  /** A revision asked for by name (older ones are then allowed). */
  revision: string | undefined;
}

/** The commit to deploy; its absence once the `target` stage passed is a bug. */
export function targetOf(ctx: PreflightContext, check: CheckName | null = null): PreflightTarget {
  if (!ctx.target) throw new InternalError(`${check ? `preflight check '${check}'` : 'the update'} went on without a target commit`, { check });
  return ctx.target;
}
