import { fsck, verifyRefBindings } from '../../repo/fsck.js';
import { tombstoneOrphanCommits } from '../../repo/prune.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { flag, JSON_OPTION } from '../options.js';
import { progressLine } from '../progress.js';
import { EXIT } from '../report.js';

export default verb({
  options: {
    delete: flag('Remove corrupt objects and mark the commits that need them as partial (pull again to repair)'),
    quiet: flag('Print only problems', { alias: 'q' }),
    all: flag('Do not stop at the first problem (ostree-ts always goes on and lists every one)', { alias: 'a' }),
    'verify-bindings': flag("Check that each ref's commit lists the ref in its ostree.ref-binding metadata"),
    'verify-back-refs': flag('Also check that every ref a commit lists in ostree.ref-binding exists (implies --verify-bindings)'),
    'add-tombstones': flag('Delete each commit whose parent commit is missing, leaving a tombstone (and turn tombstones on), as ostree does'),
    json: JSON_OPTION,
  },
  details: 'Exits 1 when a problem was found (the report lists each one).',
  async run(o) {
    const repo = await openRepo(o);
    if (o.verifyBindings || o.verifyBackRefs) await verifyRefBindings(repo, { backRefs: o.verifyBackRefs });
    const progress = progressLine(process.stderr, process.stderr.isTTY === true && !o.quiet && !o.json);
    const report = await fsck(repo, {
      delete: o.delete,
      onProgress: (e) => progress.update(`fsck objects (${e.done}/${e.total}) ${Math.floor((e.done * 100) / Math.max(1, e.total))}%`),
    });
    progress.done();
    const tombstoned = o.addTombstones
      ? await tombstoneOrphanCommits(repo, (c) => { if (!o.json) write(`Adding tombstone for commit ${c}\n`); })
      : [];
    if (o.json) {
      printDocument('FsckReport', { ...report, tombstoned });
    } else {
      for (const p of report.problems) process.stderr.write(`error: ${p.message}\n`);
      for (const d of report.deleted) write(`Deleted corrupt object ${d}\n`);
      for (const c of report.partialCommits) if (!o.quiet) write(`Commit ${c} is partial\n`);
      if (!o.quiet) {
        write(report.problems.length
          ? `fsck of ${report.objects} objects in ${report.commits} commits found ${report.problems.length} problem(s).${o.delete ? ' Corrupt objects were removed; pull or commit again to restore them.' : ' Run with --delete to remove corrupt objects, then pull again.'}\n`
          : `object fsck of ${report.commits} commits completed successfully - no errors found.\n`);
      }
    }
    return report.problems.length ? EXIT.FAILURE : EXIT.OK;
  },
});
