// Input trees for the benchmark: deterministic synthetic trees and real
// Debian root filesystems, each built once and cached. Every tree also has an
// update tree (see ensureUpdateTree) for the static-delta operations.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Bump when the generator changes so stale cached trees are not reused. */
const GENERATOR_VERSION = 1;
const SEED = 0x05_7e_e7_5e;
const FILES_PER_DIR = 50;
const DIR_FANOUT = 8;

/** Bump when the synthetic update (see updateTree) changes. */
const UPDATE_VERSION = 1;

export const SYNTHETIC_TREES = { '1k': 1_000, '10k': 10_000, '100k': 100_000 };

/**
 * Debian trees built by fixtures/make-minbase.sh: the packages each adds to
 * mmdebstrap's minbase set. `minbase-pkgs` is `minbase` after a typical OS
 * update that installs a few tools.
 */
export const DEBIAN_TREES = {
  minbase: [],
  'minbase-pkgs': ['less', 'curl', 'iproute2', 'procps', 'vim-tiny', 'openssh-client', 'python3-minimal'],
  'minbase-kernel': ['linux-image-cloud-amd64', 'initramfs-tools'],
};
/**
 * Debian trees laid out as an OSTree OS tree for `ostree admin deploy`, built
 * by bench/make-kernel-tree.sh instead: kernel and initramfs in
 * usr/lib/modules/KVER/, /etc moved to /usr/etc.
 */
const KERNEL_TREES = new Set(['minbase-kernel']);
/** The Debian tree each Debian tree is updated to by the delta operations. */
const DEBIAN_UPDATES = { minbase: 'minbase-pkgs' };

/** Trees run when --trees is not given. */
export const ALL_TREES = ['minbase', ...Object.keys(SYNTHETIC_TREES)];
/** Every tree --trees accepts. */
export const KNOWN_TREES = [...Object.keys(DEBIAN_TREES), ...Object.keys(SYNTHETIC_TREES)];

/** Cache root: $OSTREE_TS_BENCH_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/ostree-ts-bench. */
export function cacheRoot(env = process.env) {
  if (env.OSTREE_TS_BENCH_CACHE) return path.resolve(env.OSTREE_TS_BENCH_CACHE);
  const xdg = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'ostree-ts-bench');
}

/**
 * Return the directory of tree `name`, building it first if it is not cached.
 * `log` receives progress messages.
 */
export function ensureTree(root, name, repoRoot, log) {
  const treesDir = path.join(root, 'trees');
  fs.mkdirSync(treesDir, { recursive: true });
  if (DEBIAN_TREES[name]) return ensureDebian(treesDir, name, repoRoot, log);
  const count = SYNTHETIC_TREES[name];
  if (count === undefined) throw new Error(`unknown tree '${name}' (known: ${KNOWN_TREES.join(', ')})`);
  return ensureSynthetic(treesDir, name, count, log);
}

/** Whether tree `name` is an OS tree that `ostree admin deploy` accepts (see KERNEL_TREES). */
export function isKernelTree(name) {
  return KERNEL_TREES.has(name);
}

/** Whether tree `name` has an update tree for the delta operations. */
export function hasUpdateTree(name) {
  return Boolean(DEBIAN_UPDATES[name] || SYNTHETIC_TREES[name]);
}

/**
 * Make sure tree `name` and its update tree exist; returns { name, dir } of
 * the update tree. For `minbase` that is `minbase-pkgs`. The two must come
 * from the same package snapshot, so that the update adds packages and
 * changes nothing else: when one of them had to be built and the packages the
 * two have in common differ in version, the other is rebuilt as well, right
 * after. When both were cached and differ, a warning is logged (delete the
 * cached trees to rebuild them). For a synthetic tree the update tree is
 * derived from it (see updateTree).
 */
export function ensureUpdateTree(root, name, repoRoot, log) {
  const treesDir = path.join(root, 'trees');
  fs.mkdirSync(treesDir, { recursive: true });
  const updateName = DEBIAN_UPDATES[name];
  if (updateName) {
    const built = [name, updateName].filter((n) => !isComplete(debianDir(treesDir, n)));
    const dirs = [name, updateName].map((n) => ensureDebian(treesDir, n, repoRoot, log));
    let differ = packageVersionChanges(...dirs);
    if (differ.length && built.length === 1) {
      const other = built[0] === name ? updateName : name;
      log(`${name} and ${updateName} differ in ${differ.length} common packages (${differ.slice(0, 3).join(', ')}); rebuilding ${other} from the same snapshot`);
      const dir = debianDir(treesDir, other);
      const old = `${dir}.old-${process.pid}`;
      fs.renameSync(dir, old);
      try {
        ensureDebian(treesDir, other, repoRoot, log);
      } catch (err) {
        fs.rmSync(debianDir(treesDir, other), { recursive: true, force: true });
        fs.renameSync(old, dir);
        throw err;
      }
      fs.rmSync(old, { recursive: true, force: true });
      differ = packageVersionChanges(...dirs);
    }
    if (differ.length) {
      log(`warning: ${name} and ${updateName} come from different package snapshots; ${differ.length} common packages differ (${differ.slice(0, 3).join(', ')}); remove both from ${treesDir} to rebuild them together`);
    }
    return { name: updateName, dir: dirs[1] };
  }
  const count = SYNTHETIC_TREES[name];
  if (count === undefined) throw new Error(`tree '${name}' has no update tree`);
  const base = ensureSynthetic(treesDir, name, count, log);
  return { name: `${name}-update`, dir: ensureSyntheticUpdate(treesDir, name, base, count, log) };
}

function debianDir(treesDir, name) {
  return path.join(treesDir, name);
}

function isComplete(dir) {
  return fs.existsSync(path.join(dir, '.complete'));
}

function ensureDebian(treesDir, name, repoRoot, log) {
  const dest = debianDir(treesDir, name);
  if (isComplete(dest)) return dest;
  const packages = DEBIAN_TREES[name];
  log(`building ${name} tree in ${dest} (mmdebstrap; a few minutes)`);
  const started = performance.now();
  const script = KERNEL_TREES.has(name)
    ? path.join(repoRoot, 'bench', 'make-kernel-tree.sh')
    : path.join(repoRoot, 'fixtures', 'make-minbase.sh');
  const args = packages.length ? [`--include=${packages.join(',')}`, dest] : [dest];
  const res = spawnSync(script, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${script} failed with status ${res.status}`);
  log(`built ${name} in ${seconds(started)} s`);
  return dest;
}

/** Installed packages of a Debian tree: Map of "name:arch" to version, from its dpkg status. */
export function installedPackages(dir) {
  const text = fs.readFileSync(path.join(dir, 'var', 'lib', 'dpkg', 'status'), 'utf8');
  const packages = new Map();
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (key) => new RegExp(`^${key}: *(.*)$`, 'm').exec(stanza)?.[1].trim();
    const name = field('Package');
    if (!name || !/ installed$/.test(field('Status') ?? '')) continue;
    packages.set(`${name}:${field('Architecture') ?? ''}`, field('Version') ?? '');
  }
  return packages;
}

/** "pkg:arch a -> b" for each package installed in both trees at different versions. */
function packageVersionChanges(dirA, dirB) {
  const a = installedPackages(dirA);
  const b = installedPackages(dirB);
  return [...a].filter(([pkg, v]) => b.has(pkg) && b.get(pkg) !== v).map(([pkg, v]) => `${pkg} ${v} -> ${b.get(pkg)}`);
}

function ensureSynthetic(treesDir, name, count, log) {
  const dest = path.join(treesDir, `synthetic-v${GENERATOR_VERSION}-${name}`);
  if (fs.existsSync(dest)) return dest;
  log(`generating synthetic tree ${name} (${count} files) in ${dest}`);
  const started = performance.now();
  // Build beside the destination and rename: dest exists only when complete.
  const tmp = fs.mkdtempSync(`${dest}.tmp-`);
  try {
    generateTree(tmp, count);
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  log(`generated ${name} in ${seconds(started)} s`);
  return dest;
}

/**
 * The update tree of a synthetic tree: a copy of it in which, chosen by a
 * fixed-seed PRNG, about 5% of the regular files are modified in place (a
 * block overwritten and a little appended, as a rebuilt binary or an edited
 * text would), about 2% are removed, and 5% as many new entries as the tree
 * has are added under a new directory.
 */
function ensureSyntheticUpdate(treesDir, name, baseDir, count, log) {
  const dest = path.join(treesDir, `synthetic-v${GENERATOR_VERSION}-${name}-update-v${UPDATE_VERSION}`);
  if (fs.existsSync(dest)) return dest;
  log(`making the update of synthetic tree ${name} in ${dest}`);
  const started = performance.now();
  const tmp = fs.mkdtempSync(`${dest}.tmp-`);
  try {
    fs.cpSync(baseDir, tmp, { recursive: true, verbatimSymlinks: true });
    updateTree(tmp, count);
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  log(`made the update of ${name} in ${seconds(started)} s`);
  return dest;
}

function updateTree(dir, count) {
  const rand = prng(SEED ^ 0x0b_d4_7e_00 ^ UPDATE_VERSION);
  for (const file of regularFiles(dir)) {
    const r = rand();
    if (r < 0.02) fs.rmSync(file);
    else if (r < 0.07) modifyFile(file, rand);
  }
  const added = Math.ceil(count * 0.05);
  const dirs = directoryPaths(Math.ceil(added / FILES_PER_DIR)).map((rel) => path.join(dir, 'update', rel));
  for (const d of dirs) fs.mkdirSync(d, { recursive: true });
  for (let i = 0; i < added; i++) {
    const index = count + i;
    writeEntry(dirs[Math.floor(i / FILES_PER_DIR)], index, prng(SEED ^ Math.imul(index + 1, 0x9e3779b1)));
  }
  for (const d of dirs) fs.chmodSync(d, 0o755);
}

/** Regular files under `dir`, in a fixed (sorted) order. */
function regularFiles(dir) {
  const files = [];
  const walk = (d) => {
    const entries = fs.readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const ent of entries) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) files.push(p);
    }
  };
  walk(dir);
  return files;
}

/** Overwrite one block of `file` (random bytes, or words for text) and append a little. */
function modifyFile(file, rand) {
  const old = fs.readFileSync(file);
  const text = file.endsWith('.txt') || file.endsWith('.sh');
  const fresh = (n) => (text ? textContent(n, rand) : binaryContent(n, rand));
  const block = Math.min(old.length, rand.int(16, 4096));
  const at = rand.int(0, old.length - block);
  const grown = Buffer.concat([old.subarray(0, at), fresh(block), old.subarray(at + block), fresh(rand.int(0, 512))]);
  fs.writeFileSync(file, grown);
}

/**
 * What changes from tree `a` to tree `b`, comparing regular files by content:
 * added and changed files with the bytes of their new content, removed files,
 * and added or removed entries of other kinds (directories, symlinks).
 */
export function diffTrees(a, b) {
  const list = (root) => {
    const entries = new Map();
    const walk = (d, rel) => {
      for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, ent.name);
        const r = rel ? `${rel}/${ent.name}` : ent.name;
        const kind = ent.isDirectory() ? 'dir' : ent.isSymbolicLink() ? 'symlink' : ent.isFile() ? 'file' : 'other';
        entries.set(r, { kind, path: p });
        if (kind === 'dir') walk(p, r);
      }
    };
    walk(root, '');
    return entries;
  };
  const before = list(a);
  const after = list(b);
  const diff = {
    addedFiles: 0, addedBytes: 0, changedFiles: 0, changedBytes: 0, removedFiles: 0,
    addedOther: 0, removedOther: 0, unchangedFiles: 0,
  };
  const size = (p) => fs.statSync(p).size;
  for (const [rel, entry] of after) {
    const old = before.get(rel);
    if (entry.kind !== 'file') {
      if (!old || old.kind !== entry.kind) diff.addedOther++;
      continue;
    }
    if (!old || old.kind !== 'file') {
      diff.addedFiles++;
      diff.addedBytes += size(entry.path);
    } else if (sameContent(old.path, entry.path)) {
      diff.unchangedFiles++;
    } else {
      diff.changedFiles++;
      diff.changedBytes += size(entry.path);
    }
  }
  for (const [rel, entry] of before) {
    const now = after.get(rel);
    if (now && now.kind === entry.kind) continue;
    if (entry.kind === 'file') diff.removedFiles++;
    else diff.removedOther++;
  }
  return diff;
}

function sameContent(p, q) {
  if (size0(p) !== size0(q)) return false;
  try {
    return fs.readFileSync(p).equals(fs.readFileSync(q));
  } catch {
    return false; // unreadable: count as changed
  }
}

function size0(p) {
  return fs.statSync(p).size;
}

function seconds(startedMs) {
  return ((performance.now() - startedMs) / 1000).toFixed(1);
}

// ---------------------------------------------------------------------------
// Synthetic tree generation

/** mulberry32: a small, fast, seedable 32-bit PRNG. Returns floats in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.u32 = () => (next() * 4294967296) >>> 0;
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  return next;
}

/**
 * Fill `dir` with `count` entries: regular files (mostly small, some
 * 64 KiB-1 MiB), a few symlinks, some executables, ~50 entries per directory
 * in a nested directory tree. Everything derives from SEED and the entry
 * index, so the same count always yields the same tree.
 */
function generateTree(dir, count) {
  const dirs = directoryPaths(Math.ceil(count / FILES_PER_DIR));
  for (const rel of dirs) {
    fs.mkdirSync(path.join(dir, rel), { recursive: true });
  }
  for (let i = 0; i < count; i++) {
    const rand = prng(SEED ^ Math.imul(i + 1, 0x9e3779b1));
    const parent = path.join(dir, dirs[Math.floor(i / FILES_PER_DIR)]);
    writeEntry(parent, i, rand);
  }
  for (const rel of dirs) fs.chmodSync(path.join(dir, rel), 0o755);
}

/** Relative paths of `n` directories arranged as a DIR_FANOUT-ary tree; [0] is ''. */
function directoryPaths(n) {
  const paths = [''];
  for (let d = 1; d < n; d++) {
    const parent = paths[Math.floor((d - 1) / DIR_FANOUT)];
    paths.push(path.join(parent, `d${String(d).padStart(5, '0')}`));
  }
  return paths;
}

function writeEntry(parent, index, rand) {
  const base = `f${String(index).padStart(6, '0')}`;
  if (rand() < 0.005) {
    writeSymlink(parent, base, index, rand);
    return;
  }
  const spec = fileSpec(rand);
  const file = path.join(parent, base + spec.ext);
  fs.writeFileSync(file, spec.binary ? binaryContent(spec.size, rand) : textContent(spec.size, rand));
  fs.chmodSync(file, spec.mode);
}

/** Size, kind and mode of one regular file. */
function fileSpec(rand) {
  const r = rand();
  let size;
  if (r < 0.005) size = rand.int(64 * 1024, 1024 * 1024);
  else if (r < 0.105) size = rand.int(4 * 1024, 32 * 1024);
  else if (r < 0.115) size = 0;
  else size = rand.int(1, 4 * 1024);
  const binary = size >= 64 * 1024 || rand() < 0.3;
  const m = rand();
  if (m < 0.05) return { size, binary, mode: 0o755, ext: binary ? '' : '.sh' };
  const mode = m < 0.07 ? 0o600 : m < 0.08 ? 0o444 : 0o644;
  return { size, binary, mode, ext: binary ? '.bin' : '.txt' };
}

function writeSymlink(parent, base, index, rand) {
  const choice = rand.int(0, 2);
  const target =
    choice === 0 ? `f${String(index ^ 1).padStart(6, '0')}.txt` // neighbour; may dangle
    : choice === 1 ? '..'
    : '/usr/share/doc/nonexistent'; // absolute, dangling
  fs.symlinkSync(target, path.join(parent, base + '.link'));
}

const WORDS = (
  'the of and to in is that for it as with was on be by this are or from at ' +
  'config service system kernel module device network path file user group ' +
  'version build release static shared library binary option value default'
).split(' ');

/** Compressible text made of words and lines, exactly `size` bytes. */
function textContent(size, rand) {
  const parts = [];
  let len = 0;
  while (len < size) {
    const w = rand() < 0.1 ? '\n' : (rand() < 0.5 ? ' ' : '') + WORDS[rand.int(0, WORDS.length - 1)];
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

/** Binary data, exactly `size` bytes: random 4 KiB blocks, ~40% of them zero-filled. */
function binaryContent(size, rand) {
  const buf = Buffer.alloc(size);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(size / 4));
  for (let block = 0; block < words.length; block += 1024) {
    if (rand() < 0.4) continue; // leave zeros
    const end = Math.min(block + 1024, words.length);
    for (let k = block; k < end; k++) words[k] = rand.u32();
  }
  return buf;
}

// ---------------------------------------------------------------------------

/**
 * Walk `dir` and read every regular file once, which both counts the tree and
 * warms the page cache so neither tool pays the first cold read.
 */
export function scanTree(dir) {
  const stats = { files: 0, dirs: 0, symlinks: 0, bytes: 0, changedMs: 0 };
  const buf = Buffer.alloc(1024 * 1024);
  const seen = (st) => {
    stats.changedMs = Math.max(stats.changedMs, st.mtimeMs, st.ctimeMs);
  };
  const walk = (d) => {
    stats.dirs++;
    seen(fs.lstatSync(d));
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isSymbolicLink()) {
        stats.symlinks++;
        seen(fs.lstatSync(p));
      } else if (ent.isFile()) {
        stats.files++;
        stats.bytes += readAll(p, buf, seen);
      }
    }
  };
  walk(dir);
  return stats;
}

/** Read each file once so that its first timed read does not hit the disk. */
export function warmFiles(files) {
  const buf = Buffer.alloc(1024 * 1024);
  for (const file of files) readAll(file, buf);
}

/** Read `file` to the end; returns its size. `onStat` receives its stat. */
function readAll(file, buf, onStat = () => {}) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    const st = fs.lstatSync(file); // unreadable (e.g. mode 000): count only
    onStat(st);
    return st.size;
  }
  try {
    onStat(fs.fstatSync(fd));
    let total = 0;
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) total += n;
    return total;
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Tarballs of the trees

/** Compressors for the cached tarballs, by file suffix; `tar` is uncompressed. */
const COMPRESSORS = {
  'tar.gz': { command: 'gzip', args: ['-6'], pkg: 'gzip' },
  'tar.zst': { command: 'zstd', args: ['-3', '-T1', '-q'], pkg: 'zstd' },
};
export const TARBALL_KINDS = ['tar', ...Object.keys(COMPRESSORS)];

/** Commands (with their Debian packages) that making tarballs of `kinds` requires. */
export function tarballCommands(kinds) {
  const commands = [{ command: 'tar', pkg: 'tar' }];
  for (const kind of new Set(kinds)) {
    if (COMPRESSORS[kind]) commands.push({ command: COMPRESSORS[kind].command, pkg: COMPRESSORS[kind].pkg });
  }
  return commands;
}

/**
 * Return { kind: file } for the tarballs of `treeDir` in each of `kinds`
 * ('tar', 'tar.gz', 'tar.zst'), kept in <root>/tars/ and named after the
 * tree's directory. The plain tar is made with GNU tar; the compressed ones
 * are that tar fed through the compressor on stdin, the same bytes as piping
 * tar into it. A tarball is rebuilt when it is missing or older than what it
 * is made from: `treeChangedMs` (newest mtime or ctime in the tree, from
 * scanTree) for the tar, the tar for the compressed ones.
 */
export function ensureTarballs(root, treeDir, kinds, treeChangedMs, log) {
  const tarsDir = path.join(root, 'tars');
  fs.mkdirSync(tarsDir, { recursive: true });
  const base = path.join(tarsDir, path.basename(treeDir));
  const plain = `${base}.tar`;
  if (isOlder(plain, treeChangedMs)) {
    writeAtomically(plain, log, (fd) => runTo(fd, 'ignore', 'tar', [
      '--xattrs', '--xattrs-include=*', '--numeric-owner', '--format=pax', '-C', treeDir, '-cf', '-', '.',
    ]));
  }
  const files = {};
  for (const kind of new Set(kinds)) {
    if (kind === 'tar') {
      files[kind] = plain;
      continue;
    }
    const compressor = COMPRESSORS[kind];
    if (!compressor) throw new Error(`unknown tarball kind '${kind}' (known: ${TARBALL_KINDS.join(', ')})`);
    const file = `${base}.${kind}`;
    if (isOlder(file, fs.statSync(plain).mtimeMs)) {
      writeAtomically(file, log, (fd) => {
        const input = fs.openSync(plain, 'r');
        try {
          runTo(fd, input, compressor.command, compressor.args);
        } finally {
          fs.closeSync(input);
        }
      });
    }
    files[kind] = file;
  }
  return files;
}

function isOlder(file, thanMs) {
  try {
    return fs.statSync(file).mtimeMs < thanMs;
  } catch {
    return true; // missing
  }
}

/** Make `file` by `write(fd)` into a temporary file beside it, then rename. */
function writeAtomically(file, log, write) {
  log(`making ${path.basename(file)} in ${path.dirname(file)}`);
  const started = performance.now();
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      write(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const mib = (fs.statSync(file).size / 2 ** 20).toFixed(1);
  log(`made ${path.basename(file)} (${mib} MiB) in ${seconds(started)} s`);
}

/** Run `command args` with stdin from `input` and stdout into file descriptor `fd`. */
function runTo(fd, input, command, args) {
  const res = spawnSync(command, args, { stdio: [input, fd, 'inherit'] });
  if (res.error) throw new Error(`${command}: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with ${res.status ?? `signal ${res.signal}`}`);
  }
}
