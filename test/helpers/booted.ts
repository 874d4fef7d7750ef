/**
 * Booting a deployment without a reboot, two ways.
 *
 * `hostEnv` is the library's way: a HostEnv whose run directory says OSTree
 * booted this machine and whose `/` is a deployment's directory (its device
 * and inode) or a deployment named outright.
 *
 * `inBootedChroot` is the real machine's way, for the real `ostree` and our
 * CLI with the real environment: in a private mount namespace the
 * deployment directory becomes `/` (chroot), with the sysroot at /sysroot
 * (reached through the tree's ostree → sysroot/ostree link), its /boot at
 * /boot, a run directory holding `ostree-booted`, and the host's /usr
 * mounted over the deployment's so the tools run. This is what
 * ostree-prepare-root sets up at boot; the tree needs the `rootfs` layout
 * (helpers/host.ts). Nothing outside the namespace changes.
 */
import { mkdtemp, realpath, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { freeSpace, type BootedRoot, type HostEnv } from '../../src/io/host-env.js';
import { ROOT, isRoot, removeTree, requireTool, run, type RunResult } from './env.js';

export interface HostEnvOptions {
  /** The deployment that runs: its directory, or a deployment named outright; null or absent: not booted by OSTree. */
  booted?: string | { osname: string; checksum: string; serial: number } | null;
  /** Free bytes on the filesystem holding a path (default: what it really has). */
  freeSpace?: (p: string) => Promise<number>;
  /** The clock (default: a fixed instant). */
  now?: number;
  procCmdline?: string;
}

/** A host for the library to run on, with its own run directory (removed after the test). */
export async function hostEnv(t: TestContext, o: HostEnvOptions = {}): Promise<HostEnv> {
  const runDir = await mkdtemp(path.join(process.env.OSTREE_TS_TEST_TMP ?? tmpdir(), 'ots-run-'));
  t.after(() => removeTree(runDir));
  if (o.booted) await writeFile(path.join(runDir, 'ostree-booted'), '');
  const booted = o.booted;
  const bootedRoot = async (): Promise<BootedRoot> => {
    if (typeof booted === 'object' && booted !== null) return { deployment: booted };
    // Not booted: `/` is a directory that is no deployment (the run directory itself).
    const st = await stat(typeof booted === 'string' ? booted : runDir);
    return { dev: st.dev, ino: st.ino };
  };
  return {
    runDir,
    bootedRoot,
    procCmdline: async () => o.procCmdline ?? 'BOOT_IMAGE=/vmlinuz root=LABEL=testroot quiet\n',
    now: () => o.now ?? Date.UTC(2026, 0, 2, 3, 4, 5),
    freeSpace: o.freeSpace ?? freeSpace,
    asRoot: isRoot,
  };
}

/** Whether a test can chroot into a deployment (root, unshare, chroot); otherwise it is skipped (under CI it fails). */
export async function canChroot(t: TestContext): Promise<boolean> {
  if (!isRoot) {
    if (process.env.CI === 'true') throw new Error('Booting a deployment in a chroot needs root, which CI runs as.');
    t.skip('booting a deployment in a chroot needs root');
    return false;
  }
  return (await requireTool(t, 'unshare', 'util-linux')) && (await requireTool(t, 'chroot', 'coreutils'));
}

const BOOT = `set -e
S=$1; D=$2; R=$3; NM=$4; shift 4
mount --bind /usr "$D/usr"
mount --rbind "$S" "$D/sysroot"
mount --bind "$S/boot" "$D/boot"
mount -t tmpfs tmpfs "$D/run"
: > "$D/run/ostree-booted"
mkdir -p "$D/run/ots/dist" "$D/run/ots/node_modules"
cp "$R/package.json" "$D/run/ots/package.json"
mount --bind "$R/dist" "$D/run/ots/dist"
mount --bind "$NM" "$D/run/ots/node_modules"
mount -t proc proc "$D/proc"
mount --rbind /dev "$D/dev"
exec chroot "$D" /usr/bin/env -i PATH=/usr/bin:/bin "$@"
`;

/** Where our CLI is inside the chroot. */
export const CHROOT_CLI = '/run/ots/dist/src/cli/main.js';
export const CHROOT_ATOMIC = '/run/ots/dist/src/cli/atomic.js';

/** Run `cmd` as on the machine booted into `deploymentDir` of `sysroot` (whose sysroot is then `/`). */
export async function inBootedChroot(sysroot: string, deploymentDir: string, ...cmd: string[]): Promise<RunResult> {
  const nodeModules = await realpath(path.join(ROOT, 'node_modules'));
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', BOOT, 'boot', sysroot, deploymentDir, ROOT, nodeModules, ...cmd]);
}

/** As `inBootedChroot`, insisting on success; stdout as it is (status lines begin with spaces). */
export async function chrootOut(sysroot: string, deploymentDir: string, ...cmd: string[]): Promise<string> {
  const r = await inBootedChroot(sysroot, deploymentDir, ...cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(' ')} in a chroot of ${deploymentDir} failed with ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
