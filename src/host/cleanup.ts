/** Cleanup: `admin cleanup` under the sysroot lock — what no deployment in the boot list (nor the booted one) needs goes. */
import { cleanupSysroot, type CleanupResult } from '../sysroot/cleanup.js';
import { loadSysroot, openSysrootRepo } from '../sysroot/state.js';
import { underLock, type HostVerbOptions } from './common.js';

export async function cleanup(opts: HostVerbOptions): Promise<CleanupResult> {
  return underLock(opts, 'cleanup', async (root) => {
    const st = await loadSysroot(root, opts.env);
    return cleanupSysroot(st, await openSysrootRepo(st.root));
  });
}
