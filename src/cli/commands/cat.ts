import { pipeline } from 'node:stream/promises';
import { openPath } from '../../repo/inspect.js';
import { openRepo, verb } from '../common.js';
import { arg, args } from '../options.js';

export default verb({
  positionals: { commit: arg('Ref or checksum'), paths: args('Paths of files in the commit', { required: true }) },
  async run(o) {
    const repo = await openRepo(o);
    for (const p of o.paths) {
      const s = await openPath(repo, o.commit, p);
      await pipeline(s, process.stdout, { end: false });
    }
  },
});
