/** `boot-space`: the new kernel fits in /boot (unless it is there already, or hardlinked on the same filesystem). */
import { fsp, path } from '../../io/fs.js';
import { findKernel, kernelSize } from '../../format/kernel-layout.js';
import { commitReader } from '../../sysroot/kernel.js';
import { formatBytes } from '../format.js';
import { targetOf, type PreflightCheck } from './context.js';

/** Entries and links take a few blocks more. */
const ENTRY_ROOM = 64 * 1024;

export const bootSpace: PreflightCheck = {
  name: 'boot-space',
  stage: 'deploy',
  async run(ctx) {
    const { checksum } = targetOf(ctx, 'boot-space');
    const tree = commitReader(ctx.repo, checksum);
    const kernel = await findKernel(tree, `commit ${checksum}`);
    const bootDir = path.join(ctx.st.root, 'boot');
    const have = await fsp.stat(path.join(bootDir, 'ostree', `${ctx.osname}-${kernel.bootcsum}`)).then(() => true, () => false);
    let need = 0;
    if (!have) {
      const [b, r] = await Promise.all([fsp.stat(bootDir), fsp.stat(ctx.repo.path)]);
      need = b.dev === r.dev ? 0 : await kernelSize(tree, kernel);
    }
    const free = await ctx.st.env.freeSpace(bootDir);
    if (need + ENTRY_ROOM > free && need > 0) {
      return {
        check: 'boot-space', ok: false,
        detail: `the new kernel and initramfs need ${formatBytes(need)} in ${bootDir}, which has ${formatBytes(free)} free. Remove old deployments (ostree-ts admin undeploy, cleanup) or grow /boot.`,
      };
    }
    return { check: 'boot-space', ok: true, detail: have ? 'kernel already installed' : `${formatBytes(need)} needed, ${formatBytes(free)} free` };
  },
};
