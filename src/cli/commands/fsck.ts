import type { Argv } from 'yargs';
import { fsck } from '../../repo/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';
import { progressLine } from '../progress.js';

export const command = 'fsck';
export const describe = 'Check the repository for consistency: every object re-hashed, every commit complete';

export function builder(y: Argv): Argv {
  return y
    .option('delete', { type: 'boolean', describe: 'Remove corrupt objects and mark the commits that need them as partial (pull again to repair)' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only problems' })
    .option('json', { type: 'boolean', describe: 'Print the report as JSON' });
}

export async function handler(argv: GlobalArgs & { delete?: boolean; quiet?: boolean; json?: boolean }): Promise<void> {
  const repo = await openRepo(argv);
  const progress = progressLine(process.stderr, process.stderr.isTTY === true && !argv.quiet && !argv.json);
  const report = await fsck(repo, {
    delete: argv.delete,
    onProgress: (e) => progress.update(`fsck objects (${e.done}/${e.total}) ${Math.floor((e.done * 100) / Math.max(1, e.total))}%`),
  });
  progress.done();
  if (argv.json) {
    write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const p of report.problems) process.stderr.write(`error: ${p.message}\n`);
    for (const d of report.deleted) write(`Deleted corrupt object ${d}\n`);
    for (const c of report.partialCommits) if (!argv.quiet) write(`Commit ${c} is partial\n`);
    if (!argv.quiet) {
      write(report.problems.length
        ? `fsck of ${report.objects} objects in ${report.commits} commits found ${report.problems.length} problem(s).${argv.delete ? ' Corrupt objects were removed; pull or commit again to restore them.' : ' Run with --delete to remove corrupt objects, then pull again.'}\n`
        : `object fsck of ${report.commits} commits completed successfully - no errors found.\n`);
    }
  }
  if (report.problems.length) process.exitCode = 1;
}
