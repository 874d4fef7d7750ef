import { Codes, OstreeTsError } from '../../errors/index.js';
import { readRef, resolveRev, writeRef } from '../../repo/refs.js';
import { openRepo, verb } from '../common.js';
import { arg } from '../options.js';

export default verb({
  positionals: {
    ref: arg('The ref to move (it must exist)'),
    commit: arg('The commit to point it at: a checksum or rev (e.g. REF^)'),
  },
  examples: [['$0 --repo=repo reset os/stable os/stable^', 'Move os/stable back to its parent commit']],
  details: 'As ostree reset: the ref moves to the commit given, which need not be in its history.',
  async run(o) {
    const repo = await openRepo(o);
    if ((await readRef(repo, o.ref)) === null) {
      throw new OstreeTsError(Codes.REF_NOT_FOUND, `Invalid ref '${o.ref}': reset moves an existing ref; create one with 'refs --create=${o.ref} COMMIT'.`, { ref: o.ref });
    }
    const checksum = (await resolveRev(repo, o.commit)) as string;
    await repo.loadCommit(checksum);
    await writeRef(repo, o.ref, checksum);
  },
});
