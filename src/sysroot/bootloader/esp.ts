/**
 * The systemd-boot back end's EFI system partition. FAT has no symlinks, so
 * OSTree's one-rename switch of `boot/loader` cannot be used there; instead
 * every file goes in under a temporary name, is synced, and is renamed, in
 * an order that leaves at least one complete, bootable entry at every
 * moment:
 *
 *  1. the kernels, initramfs and devicetrees every entry names, per boot
 *     checksum (`ESP/ostree/STATEROOT-BOOTCSUM/…`, the paths the entries
 *     already give, relative to /boot);
 *  2. the entries of /boot/loader (`ESP/loader/entries/…`, same names, same
 *     bytes);
 *  3. `loader.conf`'s `default`: `ostree-*`, the first of our entries in
 *     systemd-boot's order (an entry with no tries left sorts last);
 *  4. last, the entries and kernels no longer named are removed.
 *
 * The counters on the ESP are the firmware's (it renames entries there
 * before booting them), so they are authoritative: our own renames go to the
 * ESP first, then to /boot/loader, and any write starts by giving
 * /boot/loader the ESP's counters (`adoptEspCounters`).
 */
import { Codes, OstreeTsError } from '../../errors/index.js';
import { BlsEntry } from '../../format/bls.js';
import { blessedName, parseBootCounter } from '../../format/boot-counter.js';
import { atomicCopyFile, atomicWriteFile, exists, fsp, fsyncDir, fsyncFile, isErrno, path } from '../../io/fs.js';
import { faultHit, type SysrootFaults } from '../faults.js';
import type { SysrootState } from '../state.js';

/** What the ESP functions need of a back end (a BootBackend is one). */
export interface EspTarget {
  /** The ESP, as a path inside the sysroot (`/boot/efi`); default /boot/efi, then /efi, the first that exists. */
  esp?: string;
  faults?: SysrootFaults;
}

export const DEFAULT_ESP_PATHS = ['/boot/efi', '/efi'];

/** The ESP's directory on this machine, or a coded error saying where it was looked for. */
export async function espDir(root: string, t: EspTarget): Promise<string> {
  const candidates = t.esp ? [t.esp] : DEFAULT_ESP_PATHS;
  for (const c of candidates) {
    const dir = path.join(root, c);
    const st = await fsp.stat(dir).catch(() => null);
    if (st?.isDirectory()) return dir;
  }
  throw new OstreeTsError(Codes.NOT_FOUND,
    `The systemd-boot back end needs the EFI system partition, but there is no directory at ${candidates.map((c) => path.join(root, c)).join(' or ')}. Nothing was changed. Mount the ESP there, or name its mount point (esp= in the [boot] group of atomic.conf).`,
    { esp: candidates });
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

const TEMP = /^\..+\.tmp-[A-Za-z0-9_-]+$/;

function isOurEntry(name: string): boolean {
  return name.startsWith('ostree-') && name.endsWith('.conf') && !TEMP.test(name);
}

/** Rename in a directory, then make the rename durable: the renamed file (on FAT its new entry), then the directory (the old entry gone). */
export async function durableRename(dir: string, from: string, to: string): Promise<void> {
  if (from === to) return;
  await fsp.rename(path.join(dir, from), path.join(dir, to));
  await fsyncFile(path.join(dir, to));
  await fsyncDir(dir);
}

/** The files an entry boots, relative to its root (/boot or the ESP): linux, initrd…, devicetree. */
export function entryFiles(e: BlsEntry): string[] {
  const out: string[] = [];
  for (const key of ['linux', 'initrd', 'devicetree']) {
    for (const v of e.getAll(key)) for (const p of v.split(/\s+/).filter(Boolean)) out.push(p.replace(/^\/+/, ''));
  }
  return out;
}

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdirOrEmpty(path.join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const st = await fsp.lstat(path.join(dir, r));
    if (st.isDirectory()) out.push(...(await listFiles(dir, r)));
    else out.push(r);
  }
  return out;
}

/** The entries of /boot/loader: name → bytes. */
async function bootEntries(root: string): Promise<Map<string, Buffer>> {
  const dir = path.join(root, 'boot', 'loader', 'entries');
  const out = new Map<string, Buffer>();
  for (const name of await readdirOrEmpty(dir)) {
    if (!isOurEntry(name)) continue;
    const st = await fsp.lstat(path.join(dir, name));
    if (st.isFile()) out.set(name, await fsp.readFile(path.join(dir, name)));
  }
  return out;
}

/**
 * Give /boot/loader's entries the counters the ESP's copies have (the
 * firmware renamed those), matching an ESP entry to the /boot entry with the
 * same name without its counter and the same bytes. The deployments of `st`
 * (when given) learn their new names.
 */
export async function adoptCountersFrom(root: string, t: EspTarget, st?: SysrootState): Promise<number> {
  const esp = await espDir(root, t);
  const espEntries = path.join(esp, 'loader', 'entries');
  const bootDir = path.join(root, 'boot', 'loader', 'entries');
  const boot = await bootEntries(root);
  const byStem = new Map<string, string>();
  for (const name of boot.keys()) byStem.set(blessedName(name), name);
  let renamed = 0;
  for (const name of await readdirOrEmpty(espEntries)) {
    if (!isOurEntry(name)) continue;
    const mine = byStem.get(blessedName(name));
    if (!mine || mine === name) continue;
    const bytes = await fsp.readFile(path.join(espEntries, name)).catch(() => null);
    if (!bytes || !bytes.equals(boot.get(mine)!)) continue;
    await durableRename(bootDir, mine, name);
    faultHit(t.faults, 'entry-rename');
    renamed++;
    for (const d of st?.deployments ?? []) {
      if (d.entryFile === mine) {
        d.entryFile = name;
        const c = parseBootCounter(name);
        d.bootCounter = c ? { left: c.left, done: c.done } : null;
      }
    }
  }
  return renamed;
}

/** loader.conf with `default ostree-*`, its other lines kept. */
function loaderConf(old: string | null): string {
  const lines = (old ?? '').split('\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
  const kept = lines.filter((l) => !/^\s*default(\s|$)/.test(l));
  return [...kept, 'default ostree-*'].join('\n') + '\n';
}

/**
 * How the ESP differs from /boot/loader (counters aside: the ESP's are the
 * firmware's): entries missing or different there, entries only there,
 * files an entry names that are missing. Empty when it is in step.
 */
export async function espDifferences(root: string, t: EspTarget): Promise<string[]> {
  const esp = await espDir(root, t);
  const espEntries = path.join(esp, 'loader', 'entries');
  const boot = await bootEntries(root);
  const onEsp = new Map<string, Buffer>();
  for (const name of await readdirOrEmpty(espEntries)) {
    if (isOurEntry(name)) onEsp.set(blessedName(name), await fsp.readFile(path.join(espEntries, name)));
  }
  const out: string[] = [];
  for (const [name, bytes] of boot) {
    const there = onEsp.get(blessedName(name));
    if (!there) out.push(`entry ${name} is missing on the ESP`);
    else if (!there.equals(bytes)) out.push(`entry ${name} differs on the ESP`);
    else {
      for (const rel of entryFiles(BlsEntry.parse(bytes.toString('utf8')))) {
        if (!(await exists(path.join(esp, rel)))) out.push(`${rel}, which ${name} boots, is missing on the ESP`);
      }
    }
    onEsp.delete(blessedName(name));
  }
  for (const name of onEsp.keys()) out.push(`the ESP has an entry ${name} that /boot/loader no longer has`);
  return out;
}

export interface EspWriteResult {
  filesCopied: string[];
  entriesWritten: string[];
  entriesRemoved: string[];
  filesRemoved: string[];
}

/**
 * Make the ESP boot what /boot/loader boots (the order above). Idempotent:
 * a run stopped anywhere is completed by the next.
 */
export async function writeEsp(root: string, t: EspTarget): Promise<EspWriteResult> {
  const esp = await espDir(root, t);
  const result: EspWriteResult = { filesCopied: [], entriesWritten: [], entriesRemoved: [], filesRemoved: [] };
  await adoptCountersFrom(root, t);
  const entries = await bootEntries(root);
  const espEntries = path.join(esp, 'loader', 'entries');
  await fsp.mkdir(espEntries, { recursive: true });
  // Temporaries of an interrupted run: never a complete file, so never booted.
  for (const dir of [espEntries, path.join(esp, 'loader')]) {
    for (const name of await readdirOrEmpty(dir)) if (TEMP.test(name)) await fsp.rm(path.join(dir, name), { force: true });
  }
  for (const f of await listFiles(path.join(esp, 'ostree'))) {
    if (TEMP.test(path.basename(f))) await fsp.rm(path.join(esp, 'ostree', f), { force: true });
  }
  // 1. What the entries boot.
  const wantedFiles = new Set<string>();
  for (const [name, bytes] of entries) {
    for (const rel of entryFiles(BlsEntry.parse(bytes.toString('utf8')))) {
      if (!rel.startsWith('ostree/')) {
        throw new OstreeTsError(Codes.SYSROOT_INVALID, `Boot entry ${name} boots /${rel}, which is not under /boot/ostree; only OSTree's kernels are copied to the ESP. Repair or remove that entry.`, { entry: name, file: rel });
      }
      wantedFiles.add(rel);
    }
  }
  for (const rel of [...wantedFiles].sort()) {
    const dest = path.join(esp, rel);
    if (await exists(dest)) continue;
    const src = path.join(root, 'boot', rel);
    if (!(await exists(src))) throw new OstreeTsError(Codes.SYSROOT_INVALID, `A boot entry names /boot/${rel}, which does not exist. Redeploy to rewrite the boot files.`, { file: src });
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await atomicCopyFile(src, dest, { resyncAfterRename: true });
    result.filesCopied.push(rel);
    faultHit(t.faults, 'esp-file');
  }
  // 2. The entries, once what they boot is there.
  for (const [name, bytes] of entries) {
    const dest = path.join(espEntries, name);
    const have = await fsp.readFile(dest).catch(() => null);
    if (have && have.equals(bytes)) continue;
    await atomicWriteFile(dest, bytes, { resyncAfterRename: true });
    result.entriesWritten.push(name);
    faultHit(t.faults, 'esp-entry');
  }
  // 3. The default.
  const confFile = path.join(esp, 'loader', 'loader.conf');
  const oldConf = await fsp.readFile(confFile, 'utf8').catch(() => null);
  const conf = loaderConf(oldConf);
  if (conf !== oldConf) {
    await atomicWriteFile(confFile, conf, { resyncAfterRename: true });
    faultHit(t.faults, 'esp-loader-conf');
  }
  // 4. Last, what is no longer named.
  for (const name of await readdirOrEmpty(espEntries)) {
    if (!isOurEntry(name) || entries.has(name)) continue;
    await fsp.rm(path.join(espEntries, name), { force: true });
    await fsyncDir(espEntries);
    result.entriesRemoved.push(name);
    faultHit(t.faults, 'esp-remove-entry');
  }
  for (const rel of await listFiles(path.join(esp, 'ostree'))) {
    const full = `ostree/${rel}`;
    if (wantedFiles.has(full)) continue;
    await fsp.rm(path.join(esp, full), { force: true });
    await fsyncDir(path.dirname(path.join(esp, full)));
    result.filesRemoved.push(full);
    faultHit(t.faults, 'esp-remove-file');
  }
  for (const dir of await readdirOrEmpty(path.join(esp, 'ostree'))) {
    await fsp.rmdir(path.join(esp, 'ostree', dir)).catch(() => undefined);
  }
  return result;
}
