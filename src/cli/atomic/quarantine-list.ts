import { listQuarantine } from '../../host/quarantine.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: { json: JSON_OPTION },
  examples: [['$0 quarantine list', 'The commits updates refuse, and why']],
  details: 'With --json: a QuarantineList document (quarantine: [{commit, ref, version, reason, since}]).',
  async run(o) {
    const q = await listQuarantine({ sysroot: sysrootOf(o) });
    if (o.json) printDocument('QuarantineList', { quarantine: q });
    else if (!q.length) write('No commit is quarantined.\n');
    else for (const e of q) write(`${e.commit}${e.version ? ` (version ${e.version})` : ''}${e.ref ? ` on ${e.ref}` : ''} since ${e.since}: ${e.reason}\n`);
  },
});
