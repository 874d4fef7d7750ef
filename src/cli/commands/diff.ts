import { diffStats } from '../../repo/diff-stats.js';
import { diffRevs } from '../../repo/inspect.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, flag, JSON_OPTION } from '../options.js';
import { formatSize } from './show.js';

export default verb({
  positionals: { from: arg('Ref or checksum'), to: arg('Ref or checksum') },
  options: {
    stats: flag('Print the object counts of both commits and what they share (alone: instead of the file list)'),
    'fs-diff': flag('Print the file list (the default without --stats)'),
    json: JSON_OPTION,
  },
  async run(o) {
    const repo = await openRepo(o);
    const fsDiff = o.fsDiff || !o.stats;
    if (fsDiff) {
      const d = await diffRevs(repo, o.from, o.to);
      if (o.json) return printDocument('TreeDiff', d);
      for (const p of d.modified) write(`M    ${p}\n`);
      for (const p of d.removed) write(`D    ${p}\n`);
      for (const p of d.added) write(`A    ${p}\n`);
    }
    if (o.stats) {
      const s = await diffStats(repo, o.from, o.to);
      write(`[A] Object Count: ${s.objectsA}\n[B] Object Count: ${s.objectsB}\nCommon Object Count: ${s.commonObjects}\nCommon Object Size: ${formatSize(s.commonBytes)}\n`);
    }
  },
});
