/** What the host verbs share: the sysroot they act on, the host they run on, and the sysroot lock. */
import { path } from '../io/fs.js';
import type { HostEnv } from '../io/host-env.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import { withSysrootLock } from '../sysroot/lock.js';

export interface HostVerbOptions {
  /** The sysroot (`/` on a host). */
  sysroot: string;
  /** The host: what booted, the clock, free space, root or not. */
  env: HostEnv;
  /** Wait for the sysroot lock rather than fail. */
  lockWait?: boolean;
  /** Where the boot writes stop, as a power cut would stop them (tests). */
  faults?: SysrootFaults;
}

/** Run `fn` on the resolved sysroot path, holding its lock; `purpose` goes into the lock's note. */
export function underLock<T>(opts: HostVerbOptions, purpose: string, fn: (root: string) => Promise<T>): Promise<T> {
  const root = path.resolve(opts.sysroot);
  return withSysrootLock(root, { wait: opts.lockWait, purpose, now: opts.env.now }, () => fn(root));
}
