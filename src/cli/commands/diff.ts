import { diffRevs } from '../../repo/index.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, JSON_OPTION } from '../options.js';

export default verb({
  positionals: { from: arg('Ref or checksum'), to: arg('Ref or checksum') },
  options: { json: JSON_OPTION },
  async run(o) {
    const repo = await openRepo(o);
    const d = await diffRevs(repo, o.from, o.to);
    if (o.json) return printDocument('TreeDiff', d);
    for (const p of d.modified) write(`M    ${p}\n`);
    for (const p of d.removed) write(`D    ${p}\n`);
    for (const p of d.added) write(`A    ${p}\n`);
  },
});
