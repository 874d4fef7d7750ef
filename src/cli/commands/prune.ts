import { prune } from '../../repo/index.js';
import { openRepo, parseTimestamp, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { flag, JSON_OPTION, num, str } from '../options.js';

export default verb({
  options: {
    'refs-only': flag('Keep only what refs reach'),
    depth: num('History depth to keep from each ref (-1 = all, 0 = the ref only)'),
    'keep-younger-than': str('Delete commits older than this date (ref tips are kept)'),
    'no-prune': flag('Only report what would be deleted'),
    json: JSON_OPTION,
  },
  examples: [['$0 --repo=repo prune --refs-only --depth=0', 'Keep only what the refs\' own commits need']],
  async run(o) {
    const repo = await openRepo(o);
    const r = await prune(repo, {
      refsOnly: o.refsOnly,
      depth: o.depth,
      keepYoungerThan: o.keepYoungerThan !== undefined ? parseTimestamp(o.keepYoungerThan, '--keep-younger-than') : undefined,
      noPrune: o.noPrune,
    });
    if (o.json) return printDocument('PruneResult', r);
    write(`Total objects: ${r.total}\n`);
    if (r.deleted === 0) write('No unreachable objects\n');
    else if (o.noPrune) write(`Would delete: ${r.deleted} objects, ${r.bytesFreed} bytes\n`);
    else write(`Deleted ${r.deleted} objects, ${r.bytesFreed} bytes freed\n`);
  },
});
