// Input trees for the benchmark: deterministic synthetic trees and a real
// Debian minbase root filesystem, each built once and cached.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Bump when the generator changes so stale cached trees are not reused. */
const GENERATOR_VERSION = 1;
const SEED = 0x05_7e_e7_5e;
const FILES_PER_DIR = 50;
const DIR_FANOUT = 8;

export const SYNTHETIC_TREES = { '1k': 1_000, '10k': 10_000, '100k': 100_000 };
export const ALL_TREES = ['minbase', ...Object.keys(SYNTHETIC_TREES)];

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
  if (name === 'minbase') return ensureMinbase(treesDir, repoRoot, log);
  const count = SYNTHETIC_TREES[name];
  if (count === undefined) throw new Error(`unknown tree '${name}' (known: ${ALL_TREES.join(', ')})`);
  return ensureSynthetic(treesDir, name, count, log);
}

function ensureMinbase(treesDir, repoRoot, log) {
  const dest = path.join(treesDir, 'minbase');
  if (fs.existsSync(path.join(dest, '.complete'))) return dest;
  log(`building minbase tree in ${dest} (mmdebstrap; a few minutes)`);
  const started = performance.now();
  const script = path.join(repoRoot, 'fixtures', 'make-minbase.sh');
  const res = spawnSync(script, [dest], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${script} failed with status ${res.status}`);
  log(`built minbase in ${seconds(started)} s`);
  return dest;
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
