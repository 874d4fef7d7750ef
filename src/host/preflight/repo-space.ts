/** `repo-space`: room in the repository's filesystem for what the pull brings (known when the commit lists its objects' sizes). */
import { commitObjectSizes } from '../../format/sizes.js';
import { formatBytes } from '../format.js';
import { targetOf, type PreflightCheck } from './context.js';

export const repoSpace: PreflightCheck = {
  name: 'repo-space',
  stage: 'fetch',
  async run(ctx) {
    const { commit } = targetOf(ctx, 'repo-space');
    const repo = ctx.repo;
    let needed: number | null = null;
    const sizes = commitObjectSizes(commit.metadata);
    if (sizes) {
      needed = 0;
      for (const s of sizes.values()) if (!(await repo.hasObject(s.checksum, s.type))) needed += s.unpacked;
    }
    const free = await ctx.st.env.freeSpace(repo.path);
    if (needed !== null && needed > free) {
      return {
        check: 'repo-space', ok: false,
        detail: `the update needs ${formatBytes(needed)} in ${repo.path}, and its filesystem has ${formatBytes(free)} free. Free some space (ostree-ts admin cleanup removes what no deployment uses).`,
      };
    }
    return {
      check: 'repo-space', ok: true,
      detail: needed === null ? `size not published by the commit; ${formatBytes(free)} free` : `${formatBytes(needed)} needed, ${formatBytes(free)} free`,
    };
  },
};
