import { resolveRev } from '../../repo/index.js';
import { openRepo, verb, write } from '../common.js';
import { arg } from '../options.js';

export default verb({
  positionals: { rev: arg('Ref, REMOTE:REF, checksum or prefix, optionally with ^ suffixes') },
  async run(o) {
    const repo = await openRepo(o);
    write(`${await resolveRev(repo, o.rev)}\n`);
  },
});
