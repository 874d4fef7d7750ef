import { Codes, OstreeTsError } from '../../errors/index.js';
import { deleteDelta, listDeltas } from '../../repo/delta.js';
import { deleteCommit, prune } from '../../repo/prune.js';
import { resolveRev } from '../../repo/refs.js';
import { openRepo, parseTimestamp, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { flag, JSON_OPTION, list, num, str } from '../options.js';
import { formatSize } from './show.js';

export default verb({
  options: {
    'refs-only': flag('Keep only what refs reach'),
    depth: num('History depth to keep from each ref (-1 = all, 0 = the ref only)'),
    'keep-younger-than': str('Delete commits older than this date (ref tips are kept)'),
    'delete-commit': str('Delete this commit (refused while a ref points at it), then prune'),
    'static-deltas-only': flag('With --delete-commit or --keep-younger-than: delete the static deltas to those commits, not the commits'),
    'only-branch': list('Only this branch loses history (to --depth); the others keep all of theirs. Repeatable; implies --refs-only'),
    'retain-branch-depth': list('BRANCH=DEPTH: keep DEPTH parents of BRANCH, whatever --depth says (with --refs-only or --only-branch)'),
    'commit-only': flag('Only traverse and delete commit objects'),
    'no-prune': flag('Only report what would be deleted'),
    json: JSON_OPTION,
  },
  examples: [['$0 --repo=repo prune --refs-only --depth=0', 'Keep only what the refs\' own commits need'], ['$0 --repo=repo prune --only-branch=os/testing --depth=5', 'Trim one branch, keep the others whole']],
  async run(o) {
    const repo = await openRepo(o);
    if (o.deleteCommit !== undefined && o.keepYoungerThan !== undefined) {
      throw new OstreeTsError(Codes.USAGE, 'Cannot specify both --delete-commit and --keep-younger-than.');
    }
    if (o.deleteCommit !== undefined && o.noPrune) throw new OstreeTsError(Codes.USAGE, 'Cannot specify both --delete-commit and --no-prune.');
    const branchDepths = new Map<string, number>();
    for (const s of o.retainBranchDepth) {
      const i = s.lastIndexOf('=');
      const d = i > 0 ? Number(s.slice(i + 1)) : Number.NaN;
      if (!Number.isInteger(d)) throw new OstreeTsError(Codes.USAGE, `Invalid --retain-branch-depth='${s}': give BRANCH=DEPTH, DEPTH a whole number (-1 for all).`, { value: s });
      branchDepths.set(s.slice(0, i), d);
    }
    const keepYoungerThan = o.keepYoungerThan !== undefined ? parseTimestamp(o.keepYoungerThan, '--keep-younger-than') : undefined;
    if (o.staticDeltasOnly && (o.deleteCommit !== undefined || keepYoungerThan !== undefined)) {
      // Only deltas go; the commits and their objects stay.
      const target = o.deleteCommit !== undefined ? (await resolveRev(repo, o.deleteCommit)) as string : null;
      for (const d of await listDeltas(repo)) {
        let doomed = d.to === target;
        if (keepYoungerThan !== undefined && await repo.hasObject(d.to, 'commit')) doomed = (await repo.loadCommit(d.to)).timestamp < keepYoungerThan;
        if (doomed && !o.noPrune) await deleteDelta(repo, d.from, d.to);
      }
    } else if (o.deleteCommit !== undefined && !o.noPrune) {
      await deleteCommit(repo, o.deleteCommit);
    }
    const r = await prune(repo, {
      refsOnly: o.refsOnly,
      depth: o.depth,
      keepYoungerThan: o.staticDeltasOnly ? undefined : keepYoungerThan,
      noPrune: o.noPrune,
      onlyBranches: o.onlyBranch.length ? o.onlyBranch : undefined,
      branchDepths,
      commitOnly: o.commitOnly,
    });
    if (o.json) return printDocument('PruneResult', r);
    write(`Total${o.commitOnly ? ' (commit only)' : ''} objects: ${r.total}\n`);
    if (r.deleted === 0) write('No unreachable objects\n');
    else if (o.noPrune) write(`Would delete: ${r.deleted} objects, freeing ${formatSize(r.bytesFreed)}\n`);
    else write(`Deleted ${r.deleted} objects, ${formatSize(r.bytesFreed)} freed\n`);
  },
});
