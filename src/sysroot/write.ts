/**
 * Writing a new deployment list (libostree's write_deployments): when only
 * which deployment sits where changes, a new `ostree/boot.B.S` link farm and
 * one symlink swap; otherwise a whole new boot version — entries in
 * boot/loader.B', kernels under boot/ostree, the farm ostree/boot.B'.S —
 * everything written and synced before one rename of boot/loader switches.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { BlsEntry, Kargs, parseOsRelease } from '../format/bls.js';
import { counterSuffix, type BootCounter } from '../format/boot-counter.js';
import { lookup } from '../format/gvariant.js';
import { atomicWriteFile, exists, fsp, fsyncDir, path, syncFilesystem } from '../io/fs.js';
import { replaceSymlink } from '../io/host-fs.js';
import type { Repo } from '../repo/repo.js';
import { dirReader, findKernel, installKernel } from './kernel.js';
import { deploymentPath, deploymentRelPath, type Deployment, type SysrootState } from './state.js';

export interface WriteEvent {
  type: 'bootconfig';
  swap: boolean;
  bootversion: number;
  subbootversion: number;
  deployments: number;
  /** How many deployments the list had before. */
  previous: number;
}

/** Per boot checksum, 0, 1, … in list order. */
export function assignBootserials(list: Deployment[]): void {
  const seen = new Map<string, number>();
  for (const d of list) {
    const n = seen.get(d.bootcsum) ?? 0;
    d.bootserial = n;
    seen.set(d.bootcsum, n + 1);
  }
}

export async function commitVersion(repo: Repo, csum: string): Promise<string | null> {
  try {
    const c = await repo.loadCommit(csum);
    return (lookup(c.metadata, 'version', 's') as string | undefined) ?? null;
  } catch {
    return null;
  }
}

async function bootconfigsEqual(repo: Repo, a: Deployment, b: Deployment): Promise<boolean> {
  if (a.bootcsum !== b.bootcsum || a.osname !== b.osname) return false;
  const ka = Kargs.parse(a.kargs);
  const kb = Kargs.parse(b.kargs);
  ka.delete('ostree');
  kb.delete('ostree');
  if (ka.toString() !== kb.toString()) return false;
  if ((a.overlayInitrds ?? []).join('\n') !== (b.overlayInitrds ?? []).join('\n')) return false;
  return (await commitVersion(repo, a.csum)) === (await commitVersion(repo, b.csum));
}

/** The farm ostree/boot.B.S/OS/BOOTCSUM/N -> ../../../deploy/OS/deploy/CSUM.SERIAL, built fresh. */
async function writeBootlinks(root: string, bootversion: number, subbootversion: number, list: Deployment[]): Promise<void> {
  const farm = path.join(root, 'ostree', `boot.${bootversion}.${subbootversion}`);
  await fsp.rm(farm, { recursive: true, force: true });
  for (const d of list) {
    const dir = path.join(farm, d.osname, d.bootcsum);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.symlink(`../../../deploy/${d.osname}/deploy/${d.csum}.${d.deployserial}`, path.join(dir, String(d.bootserial)));
  }
}

/** `ostree-IDX-STATEROOT.conf` (libostree 2022.7's naming), with the boot counter before `.conf` when there is one. */
export function entryFileName(idx: number, osname: string, counter: BootCounter | null): string {
  return `ostree-${idx}-${osname}${counter ? counterSuffix(counter) : ''}.conf`;
}

function sameCounter(a: Deployment, b: Deployment): boolean {
  const ca = a.bootCounter ?? null;
  const cb = b.bootCounter ?? null;
  return ca === cb || (ca !== null && cb !== null && ca.left === cb.left && ca.done === cb.done);
}

async function osReleaseTitle(deployDir: string): Promise<string> {
  for (const rel of ['usr/lib/os-release', 'etc/os-release']) {
    const text = await fsp.readFile(path.join(deployDir, rel), 'utf8').catch(() => null);
    if (text === null) continue;
    const os = parseOsRelease(text);
    const title = os.get('PRETTY_NAME') ?? os.get('ID');
    if (title) return title;
  }
  return '';
}

async function writeEntry(st: SysrootState, repo: Repo, newBootversion: number, d: Deployment, index: number, n: number, multipleOs: boolean): Promise<BlsEntry> {
  const dir = deploymentPath(st.root, d);
  const kernel = await findKernel(dirReader(dir), `deployment ${deploymentRelPath(d)}`, { knownBootcsum: d.bootcsum || undefined });
  const bootDir = path.join(st.root, 'boot');
  await installKernel(dir, kernel, bootDir, d.osname);
  const e = new BlsEntry();
  let title = await osReleaseTitle(dir);
  if (!title) {
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `Deployment ${deploymentRelPath(d)} has no PRETTY_NAME or ID in usr/lib/os-release (or etc/os-release), which its boot entry's title is made from. Add one to the tree and commit it again.`, { deployment: deploymentRelPath(d) });
  }
  const version = await commitVersion(repo, d.csum);
  if (version && !title.includes(version)) title += ` ${version}`;
  title += ` (ostree${multipleOs ? `:${d.osname}` : ''}:${index})`;
  e.set('title', title);
  e.set('version', String(n - index));
  const csumDir = `/ostree/${d.osname}-${kernel.bootcsum}`;
  e.set('linux', `${csumDir}/${kernel.kernel.dest}`);
  const kargs = Kargs.parse(d.kargs);
  if (kernel.initramfs) {
    e.set('initrd', `${csumDir}/${kernel.initramfs.dest}`);
    for (const o of d.overlayInitrds ?? []) e.add('initrd', o);
  } else if (d.overlayInitrds?.length) {
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `Deployment ${deploymentRelPath(d)} has overlay initramfs images but its tree has no initramfs for them to overlay. Deploy without --overlay-initrd, or add an initramfs to the tree.`, { deployment: deploymentRelPath(d) });
  } else kargs.replace(`init=/ostree/boot.${newBootversion}/${d.osname}/${kernel.bootcsum}/${d.bootserial}/usr/lib/ostree/ostree-prepare-root`);
  if (kernel.devicetree) e.set('devicetree', `${csumDir}/${kernel.devicetree.dest}`);
  else if (kernel.dtbDir) e.set('fdtdir', `${csumDir}/${kernel.dtbDir.dest}`);
  kargs.replace(`ostree=/ostree/boot.${newBootversion}/${d.osname}/${kernel.bootcsum}/${d.bootserial}`);
  e.set('options', kargs.toString());
  const entries = path.join(bootDir, `loader.${newBootversion}`, 'entries');
  const name = entryFileName(n - index, d.osname, d.bootCounter ?? null);
  await atomicWriteFile(path.join(entries, name), e.render(), { fsync: false });
  d.entryFile = name;
  return e;
}

export interface WriteDeploymentsOptions {
  onEvent?: (e: WriteEvent) => void;
  /**
   * Run once the new list is the boot default, before anything of the old
   * one is cleaned up (the ESP copy: its old entries still name the old
   * boot version's links).
   */
  afterSwitch?: (ev: WriteEvent) => Promise<void>;
}

/**
 * Make `list` the deployment list (index 0 the default). Every deployment
 * must be checked out, with its bootcsum known. Each entry keeps the boot
 * counter its deployment carries (`bootCounter`, read from the current
 * names), as libostree keeps `+L-D`. Returns what was done.
 */
export async function writeDeployments(st: SysrootState, repo: Repo, list: Deployment[], opts: WriteDeploymentsOptions = {}): Promise<WriteEvent> {
  const root = st.root;
  assignBootserials(list);
  let swapNeeded = list.length !== st.deployments.length;
  if (!swapNeeded) {
    for (let i = 0; i < list.length; i++) {
      // A counter belongs to its deployment's entry: when it would stay behind at another place, the entries are rewritten.
      if (!sameCounter(st.deployments[i], list[i]) || !(await bootconfigsEqual(repo, st.deployments[i], list[i]))) {
        swapNeeded = true;
        break;
      }
    }
  }
  let ev: WriteEvent;
  if (!swapNeeded) {
    // Same kernels, arguments and titles in the same places: only the links move.
    const sub = (1 - st.subbootversion) as 0 | 1;
    await writeBootlinks(root, st.bootversion, sub, list);
    await syncFilesystem(path.join(root, 'ostree'));
    await replaceSymlink(`boot.${st.bootversion}.${sub}`, path.join(root, 'ostree', `boot.${st.bootversion}`));
    await fsyncDir(path.join(root, 'ostree'));
    // The entries stay where they are: each place's entry is now its new deployment's (taken before any is reassigned, as the lists share objects).
    const kept = st.deployments.map((d) => ({ entry: d.entry, entryFile: d.entryFile }));
    for (let i = 0; i < list.length; i++) {
      list[i].entry = kept[i].entry;
      list[i].entryFile = kept[i].entryFile;
    }
    ev = { type: 'bootconfig', swap: false, bootversion: st.bootversion, subbootversion: sub, deployments: list.length, previous: st.deployments.length };
  } else {
    const nb = (1 - st.bootversion) as 0 | 1;
    const bootDir = path.join(root, 'boot');
    const loaderDir = path.join(bootDir, `loader.${nb}`);
    await fsp.rm(loaderDir, { recursive: true, force: true });
    await fsp.mkdir(path.join(loaderDir, 'entries'), { recursive: true, mode: 0o775 });
    const multipleOs = new Set(list.map((d) => d.osname)).size > 1;
    for (let i = 0; i < list.length; i++) list[i].entry = await writeEntry(st, repo, nb, list[i], i, list.length, multipleOs);
    // The sub-boot version of the new boot version flips too, so no link in use is rewritten.
    const oldSub = await fsp.readlink(path.join(root, 'ostree', `boot.${nb}`)).then((t) => (t.endsWith('.1') ? 1 : 0), () => 0);
    const sub = (1 - oldSub) as 0 | 1;
    await writeBootlinks(root, nb, sub, list);
    await replaceSymlink(`boot.${nb}.${sub}`, path.join(root, 'ostree', `boot.${nb}`));
    if (!(await exists(path.join(bootDir, 'boot')))) await fsp.symlink('.', path.join(bootDir, 'boot')).catch(() => undefined);
    // Everything the new loader link reaches is on disk before it is switched.
    await syncFilesystem(root);
    const [rs, bs] = await Promise.all([fsp.stat(root), fsp.stat(bootDir)]);
    if (rs.dev !== bs.dev) await syncFilesystem(bootDir);
    await replaceSymlink(`loader.${nb}`, path.join(bootDir, 'loader'));
    await fsyncDir(bootDir);
    ev = { type: 'bootconfig', swap: true, bootversion: nb, subbootversion: sub, deployments: list.length, previous: st.deployments.length };
  }
  // A change signal for other readers, as libostree gives.
  const now = new Date(st.env.now());
  await fsp.utimes(path.join(root, 'ostree', 'deploy'), now, now).catch(() => undefined);
  if (opts.afterSwitch) await opts.afterSwitch(ev);
  opts.onEvent?.(ev);
  return ev;
}
