/**
 * Cleanup (libostree's order): the inactive boot version's files, then
 * deployment directories no entry names, then kernels no deployment uses,
 * then the `ostree/B/S/i` refs that keep deployed commits, and last a prune
 * of everything else in the repository. A deployment directory that is the
 * running root is never removed, whether a boot entry names it or not.
 */
import { fsp, isErrno, path } from '../io/fs.js';
import type { BootedRoot } from '../io/host-env.js';
import { setImmutable } from '../io/host-fs.js';
import { prune, type PruneResult } from '../repo/prune.js';
import { listRefs, writeRef } from '../repo/refs.js';
import type { Repo } from '../repo/repo.js';
import { deploymentName, isBootedRoot, listStateroots, type SysrootState, OVERLAY_INITRDS_DIR } from './state.js';

export interface CleanupResult {
  deploymentsRemoved: string[];
  bootDirsRemoved: string[];
  prune: PruneResult | null;
}

/** Remove a deployment directory: its immutable flag first. */
export async function removeDeploymentDir(dir: string): Promise<void> {
  await setImmutable(dir, false);
  await fsp.rm(dir, { recursive: true, force: true });
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

/**
 * `prune`: true always prunes (`admin cleanup`); 'auto' (after a deploy)
 * prunes when some commit lost its last ref, since only then can objects
 * have become unreachable; false never.
 */
export async function cleanupSysroot(st: SysrootState, repo: Repo, opts: { prune?: boolean | 'auto' } = {}): Promise<CleanupResult> {
  const root = st.root;
  const B = st.bootversion;
  const S = st.subbootversion;
  const result: CleanupResult = { deploymentsRemoved: [], bootDirsRemoved: [], prune: null };
  const other = 1 - B;
  for (const rel of [`boot/loader.${other}`, `ostree/boot.${other}`, `ostree/boot.${other}.0`, `ostree/boot.${other}.1`, `ostree/boot.${B}.${1 - S}`]) {
    await fsp.rm(path.join(root, rel), { recursive: true, force: true });
  }
  // Leftover temporary links of an interrupted switch.
  for (const dir of ['boot', 'ostree']) {
    for (const name of await readdirOrEmpty(path.join(root, dir))) {
      if (/^\.(loader|boot\.[01])\.tmp-/.test(name)) await fsp.rm(path.join(root, dir, name), { force: true });
    }
  }
  const live = new Set(st.deployments.map((d) => `${d.osname}/${deploymentName(d)}`));
  if (st.booted) live.add(`${st.booted.osname}/${deploymentName(st.booted)}`);
  // What `/` is, asked once, before the first removal: a directory that is the running root stays, listed or not.
  let running: Promise<BootedRoot> | null = null;
  const isRunning = async (osname: string, name: string): Promise<boolean> => {
    const m = /^([0-9a-f]{64})\.([0-9]+)$/.exec(name);
    if (!m) return false;
    running ??= st.env.bootedRoot();
    return isBootedRoot(await running, root, { osname, csum: m[1], deployserial: Number(m[2]) });
  };
  for (const os of await listStateroots(root)) {
    const dir = path.join(root, 'ostree', 'deploy', os, 'deploy');
    for (const name of await readdirOrEmpty(dir)) {
      const base = name.endsWith('.origin') ? name.slice(0, -'.origin'.length) : name;
      if (/^\..+\.tmp-[A-Za-z0-9]+$/.test(name)) {
        // An origin file's temporary, left by an interrupted write.
        await fsp.rm(path.join(dir, name), { force: true });
        continue;
      }
      if (live.has(`${os}/${base}`)) continue;
      if (!/^[0-9a-f]{64}\.[0-9]+(\.origin)?$/.test(name)) continue;
      if (name.endsWith('.origin')) {
        if (!(await isRunning(os, base))) await fsp.rm(path.join(dir, name), { force: true });
      } else if (!(await isRunning(os, name))) {
        await removeDeploymentDir(path.join(dir, name));
        result.deploymentsRemoved.push(`${os}/${name}`);
      }
    }
  }
  const bootcsums = new Set(st.deployments.map((d) => `${d.osname}-${d.bootcsum}`));
  for (const name of await readdirOrEmpty(path.join(root, 'boot', 'ostree'))) {
    if (!/-[0-9a-f]{64}$/.test(name)) continue;
    if (bootcsums.has(name)) {
      // Temporaries of an interrupted kernel copy.
      for (const f of await readdirOrEmpty(path.join(root, 'boot', 'ostree', name))) {
        if (/^\..+\.tmp-[A-Za-z0-9]+$/.test(f)) await fsp.rm(path.join(root, 'boot', 'ostree', name, f), { force: true });
      }
      continue;
    }
    await fsp.rm(path.join(root, 'boot', 'ostree', name), { recursive: true, force: true });
    result.bootDirsRemoved.push(name);
  }
  // Overlay initramfs images no entry loads any more (libostree's cleanup too).
  const overlays = new Set(st.deployments.flatMap((d) => (d.overlayInitrds ?? []).map((p) => path.basename(p))));
  for (const name of await readdirOrEmpty(path.join(root, 'boot', OVERLAY_INITRDS_DIR))) {
    if (!overlays.has(name)) await fsp.rm(path.join(root, 'boot', OVERLAY_INITRDS_DIR, name), { force: true });
  }
  // The refs that keep what is deployed: ostree/B/S/i.
  const wanted = new Map(st.deployments.map((d, i) => [`ostree/${B}/${S}/${i}`, d.csum]));
  const before = new Set((await listRefs(repo)).map((r) => r.checksum));
  for (const r of await listRefs(repo, { remotes: false })) {
    if (/^ostree\/[01]\/[01]\/[0-9]+$/.test(r.ref) && wanted.get(r.ref) !== r.checksum) await writeRef(repo, r.ref, null);
  }
  const have = new Map((await listRefs(repo, { remotes: false })).map((r) => [r.ref, r.checksum]));
  for (const [name, csum] of wanted) if (have.get(name) !== csum) await writeRef(repo, name, csum);
  const mode = opts.prune ?? true;
  let needed = mode === true;
  if (mode === 'auto') {
    const after = new Set((await listRefs(repo)).map((r) => r.checksum));
    needed = [...before].some((c) => !after.has(c));
  }
  if (needed) result.prune = await prune(repo, { refsOnly: true, depth: 0 });
  return result;
}
