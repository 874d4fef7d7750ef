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
import { parentOf, type Entry, type StagedTree } from './staged-tree.js';
import { byName } from './stage.js';

export interface ComposeNote {
  /** The convention or step it comes from. */
  step: string;
  level: 'info' | 'warning';
  message: string;
}

export const TMPFILES_VAR = 'usr/lib/tmpfiles.d/ostree-ts-compose-var.conf';
export const FACTORY_VAR = 'usr/share/factory/var';

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/**
 * Walk `rel` of the tree (sorted), depth first, with each entry's kind from
 * the directory listing; `visit` returns false to skip a directory's content.
 */
export function walkTree(tree: StagedTree, rel: string, visit: (rel: string, entry: Entry) => boolean | void): void {
  for (const e of tree.list(rel) ?? []) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const go = visit(r, e);
    if (e.kind === 'dir' && go !== false) walkTree(tree, r, visit);
  }
}

function dropSpecial(tree: StagedTree, notes: ComposeNote[]): void {
  const dropped: string[] = [];
  walkTree(tree, '', (rel, e) => {
    if (e.kind === 'special') dropped.push(rel);
  });
  for (const rel of dropped) tree.remove(rel);
  if (dropped.length) {
    notes.push({ step: 'special files', level: 'info', message: `dropped ${dropped.length} device nodes, sockets and FIFOs (OSTree commits none; devtmpfs provides /dev): ${sample(dropped)}` });
  }
  for (const dir of ['tmp', 'run']) {
    const names = tree.list(dir)?.map((e) => e.name);
    if (!names?.length) continue;
    for (const n of names) tree.remove(`${dir}/${n}`);
    notes.push({ step: `/${dir}`, level: 'info', message: `emptied /${dir} (${names.length} entries: ${sample(names)}); it is a fresh tmpfs at boot` });
  }
}

function sample(list: string[], n = 5): string {
  return list.length <= n ? list.join(', ') : `${list.slice(0, n).join(', ')} and ${list.length - n} more`;
}

/** Kernels in boot/ (vmlinuz-KVER, initrd.img-KVER) move to usr/lib/modules/KVER/vmlinuz and initramfs.img. */
function placeKernel(tree: StagedTree, notes: ComposeNote[]): void {
  for (const k of tree.list(MODULES_DIR) ?? []) {
    if (tree.lstat(`${MODULES_DIR}/${k.name}/vmlinuz`)?.isFile()) {
      notes.push({ step: 'kernel', level: 'info', message: `kernel ${k.name} already in ${MODULES_DIR}/${k.name}/` });
      return;
    }
  }
  const kernels = new Map<string, { kernel?: string; initramfs?: string }>();
  for (const e of tree.list('boot') ?? []) {
    const b = parseBootFileName(e.name);
    if (!b || e.kind !== 'file') continue;
    const k = kernels.get(b.kver) ?? {};
    k[b.kind] = e.name;
    kernels.set(b.kver, k);
  }
  for (const [kver, k] of [...kernels].sort(([a], [b]) => byName(a, b))) {
    if (!k.kernel) continue;
    const dir = `${MODULES_DIR}/${kver}`;
    tree.ensureDir(dir);
    tree.move(`boot/${k.kernel}`, `${dir}/vmlinuz`);
    if (k.initramfs) tree.move(`boot/${k.initramfs}`, `${dir}/initramfs.img`);
    notes.push({ step: 'kernel', level: 'info', message: `moved /boot/${k.kernel}${k.initramfs ? ` and /boot/${k.initramfs}` : ''} to /${MODULES_DIR}/${kver}/vmlinuz${k.initramfs ? ' and initramfs.img' : ' (no initramfs found)'}` });
  }
  // The distribution's links to the kernel (/vmlinuz, /initrd.img) now point nowhere.
  for (const n of ['vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) {
    for (const dir of ['', 'boot']) {
      const rel = dir ? `${dir}/${n}` : n;
      if (tree.lstat(rel)?.isSymbolicLink()) {
        tree.remove(rel);
        notes.push({ step: 'kernel', level: 'info', message: `removed the link /${rel} (the kernel is found in ${MODULES_DIR})` });
      }
    }
  }
}

function moveEtc(tree: StagedTree, notes: ComposeNote[]): void {
  if (!tree.lstat('etc')?.isDirectory()) return;
  if (tree.lstat('usr/etc')) {
    throw new OstreeTsError(Codes.COMPOSE, 'The tree has both /etc and /usr/etc: OSTree keeps the defaults of /etc in /usr/etc only. Put the files in one of them (compose moves /etc to /usr/etc).', { step: 'conventions' });
  }
  tree.ensureDir('usr');
  tree.move('etc', 'usr/etc');
  notes.push({ step: '/etc', level: 'info', message: 'moved /etc to /usr/etc (the defaults each deployment\'s /etc is merged from)' });
}

/** /var content: tmpfiles.d lines create it at boot (files copied from usr/share/factory/var), then /var is emptied. */
function convertVar(tree: StagedTree, notes: ComposeNote[]): void {
  const top = tree.list('var')?.map((e) => e.name);
  if (!top?.length) return;
  const lines: string[] = [];
  const moves: Array<[string, string]> = [];
  walkTree(tree, 'var', (rel, e) => {
    const abs = `/${rel}`;
    if (e.kind === 'dir') {
      const st = tree.lstat(rel)!;
      lines.push(`d ${abs} ${octal(st.mode)} ${st.uid} ${st.gid} - -`);
    } else if (e.kind === 'symlink') lines.push(`L ${abs} - - - - ${tree.readlink(rel)}`);
    else if (e.kind === 'file') {
      const dest = `${FACTORY_VAR}/${rel.slice('var/'.length)}`;
      moves.push([rel, dest]);
      lines.push(`C ${abs} - - - - /${dest}`);
    }
  });
  for (const [from, to] of moves) {
    tree.ensureDir(parentOf(to));
    tree.move(from, to);
  }
  for (const n of top) tree.remove(`var/${n}`);
  tree.ensureDir(parentOf(TMPFILES_VAR));
  tree.writeFile(TMPFILES_VAR, `# /var as the composed tree had it: created at boot when missing (a deployment's /var is never updated).\n${lines.join('\n')}\n`, 0o644);
  notes.push({
    step: '/var', level: 'warning',
    message: `/var held ${lines.length} entries (${sample(top)}): they became /${TMPFILES_VAR} (${moves.length} files kept in /${FACTORY_VAR}), created at first boot only; later versions never update them, so keep data that changes with the OS in /usr`,
  });
}

export async function applyConventions(tree: StagedTree): Promise<ComposeNote[]> {
  const notes: ComposeNote[] = [];
  dropSpecial(tree, notes);
  placeKernel(tree, notes);
  moveEtc(tree, notes);
  convertVar(tree, notes);
  return notes;
}
