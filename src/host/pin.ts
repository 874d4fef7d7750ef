/** Pin: keep a deployment through upgrades and cleanup (`[libostree-transient] pinned` in its origin), or unpin it. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { setPinned } from '../sysroot/deploy.js';
import { loadSysroot, type Deployment } from '../sysroot/state.js';
import { underLock, type HostVerbOptions } from './common.js';

export interface PinOptions extends HostVerbOptions {
  /** The deployment's index in boot order (0: the default). */
  index: number;
  unpin?: boolean;
}

/** Pin or unpin the deployment at `index`; returns it. */
export async function pin(opts: PinOptions): Promise<Deployment> {
  return underLock(opts, 'pin', async (root) => {
    const st = await loadSysroot(root, opts.env);
    const d = st.deployments[opts.index];
    if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${opts.index} (there are ${st.deployments.length}). See 'atomic status'.`, { index: opts.index });
    if (d.staged && !opts.unpin) throw new OstreeTsError(Codes.USAGE, 'A staged deployment cannot be pinned.', { index: opts.index });
    await setPinned(root, d, !opts.unpin);
    return d;
  });
}
