/** `etc-merge`: a dry run of the /etc merge (the merge deployment's local changes) onto the new defaults. */
import { path } from '../../io/fs.js';
import { checkEtcMerge, diffEtc } from '../../sysroot/etc-merge.js';
import { commitReader } from '../../sysroot/kernel.js';
import { deploymentPath } from '../../sysroot/state.js';
import { targetOf, type PreflightCheck } from './context.js';

export const etcMerge: PreflightCheck = {
  name: 'etc-merge',
  stage: 'deploy',
  async run(ctx) {
    const { checksum } = targetOf(ctx, 'etc-merge');
    const tree = commitReader(ctx.repo, checksum);
    const mdir = deploymentPath(ctx.st.root, ctx.merge);
    const plan = await diffEtc(path.join(mdir, 'usr', 'etc'), path.join(mdir, 'etc'));
    const etcBase = (await tree.type('usr/etc')) === 'dir' ? 'usr/etc' : 'etc';
    const conflicts = await checkEtcMerge(plan, path.join(mdir, 'etc'), {
      typeOf: (rel) => tree.type(`${etcBase}/${rel}`),
    });
    if (conflicts.length) {
      return { check: 'etc-merge', ok: false, detail: conflicts.map((c) => c.reason.replace(/([^.])$/, '$1.')).join(' ') };
    }
    return { check: 'etc-merge', ok: true, detail: `${plan.modified.length} modified, ${plan.removed.length} removed, ${plan.added.length} added` };
  },
};
