/**
 * The OSTree conventions, applied to the staged tree for the author and each
 * reported: what cannot be committed (device nodes, sockets, FIFOs) or
 * should not be (the content of /tmp and /run) goes; the kernel and
 * initramfs move into usr/lib/modules/KVER/; /etc becomes /usr/etc (the
 * defaults the /etc merge starts from); /var content becomes
 * usr/lib/tmpfiles.d entries, since a deployment's /var is never updated.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { MODULES_DIR, parseBootFileName } from '../format/kernel-layout.js';
import { chmodSync, fsp, isErrno, lstatSync, mkdirSync, path, readdirSync, readlinkSync, renameSync, unlinkSync, type Dirent } from '../io/fs.js';
import { byName, ensureDir, removePath } from './stage.js';

export interface ComposeNote {
  /** The convention or step it comes from. */
  step: string;
  level: 'info' | 'warning';
  message: string;
}

export const TMPFILES_VAR = 'usr/lib/tmpfiles.d/ostree-ts-compose-var.conf';
export const FACTORY_VAR = 'usr/share/factory/var';

/** ensureDir, synchronous: `made` remembers what is known to exist. */
function ensureDirSync(dir: string, made: Set<string>): void {
  if (made.has(dir)) return;
  const st = (() => {
    try {
      return lstatSync(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return null;
      throw e;
    }
  })();
  if (!st) {
    ensureDirSync(path.dirname(dir), made);
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
  }
  made.add(dir);
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/**
 * Walk `rel` under `root` (sorted), depth first, with each entry's type from
 * the directory listing (no stat unless `visit` asks for one); `visit`
 * returns false to skip a directory's content. Listings are read with one
 * synchronous call each: a staged tree has thousands of directories.
 */
export async function walkStage(root: string, rel: string, visit: (rel: string, entry: Dirent) => Promise<boolean | void> | boolean | void): Promise<void> {
  const entries = readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => byName(a.name, b.name));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const go = await visit(r, e);
    if (e.isDirectory() && go !== false) await walkStage(root, r, visit);
  }
}

/** walkStage without a promise per entry, for visits that make synchronous calls only. */
function walkStageSync(root: string, rel: string, visit: (rel: string, entry: Dirent) => boolean | void): void {
  const entries = readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => byName(a.name, b.name));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const go = visit(r, e);
    if (e.isDirectory() && go !== false) walkStageSync(root, r, visit);
  }
}

async function dropSpecial(root: string, notes: ComposeNote[]): Promise<void> {
  const dropped: string[] = [];
  walkStageSync(root, '', (rel, st) => {
    if (st.isCharacterDevice() || st.isBlockDevice() || st.isSocket() || st.isFIFO()) {
      unlinkSync(path.join(root, rel));
      dropped.push(rel);
    }
  });
  if (dropped.length) {
    notes.push({ step: 'special files', level: 'info', message: `dropped ${dropped.length} device nodes, sockets and FIFOs (OSTree commits none; devtmpfs provides /dev): ${sample(dropped)}` });
  }
  for (const dir of ['tmp', 'run']) {
    const p = path.join(root, dir);
    const names = await fsp.readdir(p).catch(() => null);
    if (!names?.length) continue;
    for (const n of names) await removePath(path.join(p, n));
    notes.push({ step: `/${dir}`, level: 'info', message: `emptied /${dir} (${names.length} entries: ${sample(names.sort(byName))}); it is a fresh tmpfs at boot` });
  }
}

function sample(list: string[], n = 5): string {
  return list.length <= n ? list.join(', ') : `${list.slice(0, n).join(', ')} and ${list.length - n} more`;
}

/** Kernels in boot/ (vmlinuz-KVER, initrd.img-KVER) move to usr/lib/modules/KVER/vmlinuz and initramfs.img. */
async function placeKernel(root: string, notes: ComposeNote[]): Promise<void> {
  const modules = path.join(root, MODULES_DIR);
  for (const kver of ((await fsp.readdir(modules).catch(() => [] as string[])).sort(byName))) {
    if ((await fsp.lstat(path.join(modules, kver, 'vmlinuz')).catch(() => null))?.isFile()) {
      notes.push({ step: 'kernel', level: 'info', message: `kernel ${kver} already in ${MODULES_DIR}/${kver}/` });
      return;
    }
  }
  const boot = path.join(root, 'boot');
  const names = (await fsp.readdir(boot).catch(() => [] as string[])).sort(byName);
  const kernels = new Map<string, { kernel?: string; initramfs?: string }>();
  for (const n of names) {
    const b = parseBootFileName(n);
    if (!b) continue;
    if (!(await fsp.lstat(path.join(boot, n))).isFile()) continue;
    const k = kernels.get(b.kver) ?? {};
    k[b.kind] = n;
    kernels.set(b.kver, k);
  }
  for (const [kver, k] of [...kernels].sort(([a], [b]) => byName(a, b))) {
    if (!k.kernel) continue;
    const dir = path.join(modules, kver);
    await ensureDir(dir);
    await fsp.rename(path.join(boot, k.kernel), path.join(dir, 'vmlinuz'));
    if (k.initramfs) await fsp.rename(path.join(boot, k.initramfs), path.join(dir, 'initramfs.img'));
    notes.push({ step: 'kernel', level: 'info', message: `moved /boot/${k.kernel}${k.initramfs ? ` and /boot/${k.initramfs}` : ''} to /${MODULES_DIR}/${kver}/vmlinuz${k.initramfs ? ' and initramfs.img' : ' (no initramfs found)'}` });
  }
  // The distribution's links to the kernel (/vmlinuz, /initrd.img) now point nowhere.
  for (const n of ['vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) {
    for (const dir of ['', 'boot']) {
      const p = path.join(root, dir, n);
      const st = await fsp.lstat(p).catch(() => null);
      if (st?.isSymbolicLink()) {
        await fsp.unlink(p);
        notes.push({ step: 'kernel', level: 'info', message: `removed the link /${dir ? `${dir}/` : ''}${n} (the kernel is found in ${MODULES_DIR})` });
      }
    }
  }
}

async function moveEtc(root: string, notes: ComposeNote[]): Promise<void> {
  const etc = path.join(root, 'etc');
  const usrEtc = path.join(root, 'usr', 'etc');
  const hasEtc = (await fsp.lstat(etc).catch(() => null))?.isDirectory() ?? false;
  if (!hasEtc) return;
  if (await fsp.lstat(usrEtc).catch(() => null)) {
    throw new OstreeTsError(Codes.COMPOSE, 'The tree has both /etc and /usr/etc: OSTree keeps the defaults of /etc in /usr/etc only. Put the files in one of them (compose moves /etc to /usr/etc).', { step: 'conventions' });
  }
  await ensureDir(path.join(root, 'usr'));
  await fsp.rename(etc, usrEtc);
  notes.push({ step: '/etc', level: 'info', message: 'moved /etc to /usr/etc (the defaults each deployment\'s /etc is merged from)' });
}

/** /var content: tmpfiles.d lines create it at boot (files copied from usr/share/factory/var), then /var is emptied. */
async function convertVar(root: string, notes: ComposeNote[]): Promise<void> {
  const varDir = path.join(root, 'var');
  const top = await fsp.readdir(varDir).catch(() => null);
  if (!top?.length) return;
  const lines: string[] = [];
  let files = 0;
  const made = new Set<string>();
  // Hundreds of entries, each a call or two: synchronous, as the staged tree is nobody else's.
  walkStageSync(root, 'var', (rel) => {
    const abs = `/${rel}`;
    const st = lstatSync(path.join(root, rel));
    if (st.isDirectory()) lines.push(`d ${abs} ${octal(st.mode)} ${st.uid} ${st.gid} - -`);
    else if (st.isSymbolicLink()) lines.push(`L ${abs} - - - - ${readlinkSync(path.join(root, rel))}`);
    else if (st.isFile()) {
      const dest = path.join(root, FACTORY_VAR, rel.slice('var/'.length));
      ensureDirSync(path.dirname(dest), made);
      renameSync(path.join(root, rel), dest);
      lines.push(`C ${abs} - - - - /${FACTORY_VAR}/${rel.slice('var/'.length)}`);
      files++;
    }
  });
  for (const n of top) await removePath(path.join(varDir, n));
  const conf = path.join(root, TMPFILES_VAR);
  await ensureDir(path.dirname(conf));
  await fsp.writeFile(conf, `# /var as the composed tree had it: created at boot when missing (a deployment's /var is never updated).\n${lines.join('\n')}\n`, { mode: 0o644 });
  notes.push({
    step: '/var', level: 'warning',
    message: `/var held ${lines.length} entries (${sample(top.sort(byName))}): they became /${TMPFILES_VAR} (${files} files kept in /${FACTORY_VAR}), created at first boot only; later versions never update them, so keep data that changes with the OS in /usr`,
  });
}

export async function applyConventions(root: string): Promise<ComposeNote[]> {
  const notes: ComposeNote[] = [];
  await dropSpecial(root, notes);
  await placeKernel(root, notes);
  await moveEtc(root, notes);
  await convertVar(root, notes);
  return notes;
}

