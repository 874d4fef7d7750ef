/**
 * The host a sysroot is read and changed on: what booted, its run
 * directory, the running kernel's command line, the clock, free space and
 * whether we are root. Library code asks this object instead of the
 * machine, so a test or a simulation can boot a deployment by handing in
 * another one; `nodeHostEnv()` is the real machine.
 */
import { promises as fsp, statfs } from 'node:fs';
import { tmpdir } from 'node:os';

/**
 * What `/` is: its device and inode (a deployment directory with the same
 * pair is the one running), or a deployment named outright (a simulated
 * boot, where no directory is mounted at `/`).
 */
export type BootedRoot =
  | { dev: number; ino: number }
  | { deployment: { osname: string; checksum: string; serial: number } };

export interface HostEnv {
  /** The run directory (`/run`): a machine booted by OSTree has `ostree-booted` in it. */
  runDir: string;
  /** What `/` is; asked only when `runDir` says OSTree booted this machine. */
  bootedRoot(): Promise<BootedRoot>;
  /** The running kernel's command line (`/proc/cmdline`). */
  procCmdline(): Promise<string>;
  /** Milliseconds since the epoch. */
  now(): number;
  /** Bytes an unprivileged writer may still use on the filesystem holding `p`. */
  freeSpace(p: string): Promise<number>;
  /** Whether this process may set owners (copies keep uid and gid only then). */
  asRoot: boolean;
  /**
   * An EFI variable as efivarfs shows it (`NAME-VENDORGUID`: attributes,
   * then the value); null when the machine has no such variable (or was not
   * booted through EFI). Absent: no EFI variables at all.
   */
  efiVariable?(name: string): Promise<Buffer | null>;
}

/** Bytes an unprivileged writer may still use on the filesystem holding `p`. */
export function freeSpace(p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    statfs(p, (err, s) => (err ? reject(err) : resolve(Number(s.bavail) * Number(s.bsize))));
  });
}

/** What a repository asks of the machine: the clock, and who we are (owners are set only as root). */
export interface RepoHost {
  /** Milliseconds since the epoch. */
  now(): number;
  uid: number;
  gid: number;
}

/** This process on this machine. */
export function nodeRepoHost(): RepoHost {
  return { now: () => Date.now(), uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/** Where OSTree keeps the keys every remote trusts (`trusted.ed25519`, `trusted.ed25519.d/`). */
export const SYSTEM_TRUST_DIRS: readonly string[] = ['/etc/ostree', '/usr/share/ostree'];

/** This machine, as it is. */
export function nodeHostEnv(): HostEnv {
  return {
    runDir: '/run',
    bootedRoot: async () => {
      const st = await fsp.stat('/');
      return { dev: st.dev, ino: st.ino };
    },
    procCmdline: () => fsp.readFile('/proc/cmdline', 'utf8'),
    now: () => Date.now(),
    freeSpace,
    asRoot: process.getuid?.() === 0,
    efiVariable: async (name) => {
      try {
        return await fsp.readFile(`/sys/firmware/efi/efivars/${name}`);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
        throw e;
      }
    },
  };
}

/**
 * A host that booted `deployment` (named outright: no directory is mounted
 * at `/`), otherwise `base`: its own run directory under `runParent`, with
 * OSTree's `ostree-booted` mark (default: in the system's temporary
 * directory). For a simulated boot; `dispose` removes the
 * run directory.
 */
export async function bootedHostEnv(base: HostEnv, deployment: { osname: string; checksum: string; serial: number }, runParent: string = tmpdir()): Promise<HostEnv & { dispose(): Promise<void> }> {
  await fsp.mkdir(runParent, { recursive: true });
  const runDir = await fsp.mkdtemp(`${runParent}/run-`);
  await fsp.writeFile(`${runDir}/ostree-booted`, '');
  return {
    ...base,
    runDir,
    bootedRoot: async () => ({ deployment }),
    dispose: () => fsp.rm(runDir, { recursive: true, force: true }),
  };
}
