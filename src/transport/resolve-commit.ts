/**
 * `resolveCommit`: which commit a remote's ref names — its newest, or an
 * older one by checksum or by the `version` in its history — with the
 * remote's signature verdict on it, fetching commit objects only (they stay
 * marked partial) and moving no ref. What a host upgrade decides on before
 * it fetches anything else.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { isChecksum } from '../format/checksum.js';
import { lookup } from '../format/gvariant.js';
import type { Commit } from '../format/objects.js';
import type { Repo } from '../repo/repo.js';
import type { VerifyResult } from '../sign/policy.js';
import { pull } from './pull.js';

export interface ResolvedCommit {
  checksum: string;
  commit: Commit;
  /** What the remote's policy checked (null: it asks for no signature). */
  verified: VerifyResult | null;
}

export interface ResolveOptions {
  /** A commit checksum, or a `version` of the ref's history, instead of what the ref names now. */
  revision?: string;
}

export async function resolveCommit(repo: Repo, remote: string, ref: string, opts: ResolveOptions = {}): Promise<ResolvedCommit> {
  const seen = new Map<string, Commit>();
  const onVerifiedCommit = (c: string, v: Commit): void => void seen.set(c, v);
  let wanted = opts.revision;
  if (wanted !== undefined && !isChecksum(wanted)) {
    // A version: the history's commit objects first (kept marked partial), then the one it names.
    await pull(repo, remote, [ref], { commitMetadataOnly: true, depth: -1, noRefs: true });
    const tip = (await pull(repo, remote, [ref], { dryRun: true, commitMetadataOnly: true })).refs[0].checksum;
    wanted = await findRevision(repo, remote, ref, tip, wanted);
  }
  const plan = await pull(repo, remote, [ref], {
    dryRun: true, commitMetadataOnly: true, overrideCommits: wanted !== undefined ? { [ref]: wanted } : undefined, onVerifiedCommit,
  });
  const r = plan.refs[0];
  const commit = seen.get(r.checksum);
  if (!commit) throw new InternalError(`the pull of ${remote}:${ref} verified no commit ${r.checksum}`, { checksum: r.checksum, remote, ref });
  return { checksum: r.checksum, commit, verified: r.verified };
}

/**
 * A checksum as it is; a version, by walking the ref's history from `tip`
 * (commit objects only, as far as this repository has them).
 */
export async function findRevision(repo: Repo, remote: string | null, ref: string, tip: string, wanted: string): Promise<string> {
  if (isChecksum(wanted)) return wanted;
  let c: string | null = tip;
  while (c) {
    if (!(await repo.hasObject(c, 'commit'))) break;
    const commit = await repo.loadCommit(c);
    if (lookup(commit.metadata, 'version', 's') === wanted) return c;
    c = commit.parent;
  }
  const refspec = `${remote ? `${remote}:` : ''}${ref}`;
  throw new OstreeTsError(Codes.NOT_FOUND, `No commit with version ${wanted} in the history of ${refspec}. List them with 'ostree-ts log ${refspec}'.`, { version: wanted, ref });
}
