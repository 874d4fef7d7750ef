/**
 * Synchronous file creation, for a worker thread that writes many small
 * objects: each file is created, filled, given its owner, xattrs, mode and a
 * zero mtime in one run of system calls on that thread, with none of the
 * thread-pool round trips the asynchronous calls make per step (which cost a
 * pull more than the writing itself). Never use these on the main thread.
 */
import {
  closeSync, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, lstatSync, lutimesSync, openSync, readSync, readdirSync, readlinkSync, renameSync, symlinkSync, writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { readXattrsSync } from './xattr.js';

const requireHere = createRequire(import.meta.url);

type Binding = typeof import('@napi-rs/xattr');

let xattrBinding: Binding | null = null;
function xattr(): Binding {
  xattrBinding ??= requireHere('@napi-rs/xattr') as Binding;
  return xattrBinding;
}

export interface NewFileAttrs {
  /** Permission bits, set last (after any owner change, which may clear setuid bits). */
  mode: number;
  /** Change the owner to this when it differs from what the file got. */
  owner?: { uid: number; gid: number } | null;
  xattrs?: Array<{ name: string; value: Uint8Array }>;
  /** Set atime and mtime to the epoch, as OSTree stores objects. */
  zeroTimes?: boolean;
}

function setXattrs(path: string, xattrs: NewFileAttrs['xattrs']): void {
  for (const x of xattrs ?? []) xattr().setAttributeSync(path, x.name, Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength));
}

/** Create `path` (it must not exist) holding `data`, with the given attributes. */
export function createFileSync(path: string, data: Uint8Array, attrs: NewFileAttrs): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (attrs.owner) {
      const st = fstatSync(fd);
      if (st.uid !== attrs.owner.uid || st.gid !== attrs.owner.gid) fchownSync(fd, attrs.owner.uid, attrs.owner.gid);
    }
    setXattrs(path, attrs.xattrs);
    fchmodSync(fd, attrs.mode);
    if (attrs.zeroTimes) futimesSync(fd, 0, 0);
  } finally {
    closeSync(fd);
  }
}

/** Create the symlink `path` -> `target` with an owner, xattrs and a zero mtime. */
export function createSymlinkSync(path: string, target: string, attrs: Omit<NewFileAttrs, 'mode'>): void {
  symlinkSync(target, path);
  if (attrs.owner) lchownSync(path, attrs.owner.uid, attrs.owner.gid);
  setXattrs(path, attrs.xattrs);
  if (attrs.zeroTimes) lutimesSync(path, 0, 0);
}

/** rename(2), synchronously. */
export function renameFileSync(from: string, to: string): void {
  renameSync(from, to);
}

/**
 * Inflate raw deflate data on this thread; at most `maxOutputLength` bytes.
 * The output buffer is sized for that length up front (up to 16 MiB), so an
 * object inflates into one buffer instead of 16 KiB pieces joined afterwards.
 */
export function inflateRawSync(data: Uint8Array, maxOutputLength: number): Buffer {
  const zlib = requireHere('node:zlib') as typeof import('node:zlib');
  const max = Math.max(1, maxOutputLength);
  return zlib.inflateRawSync(data, { maxOutputLength: max, chunkSize: Math.min(Math.max(max, 1024), 16 * 1024 * 1024) });
}

/** Deflate (raw) on this thread. */
export function deflateRawSync(data: Uint8Array, level: number): Buffer {
  const zlib = requireHere('node:zlib') as typeof import('node:zlib');
  return zlib.deflateRawSync(data, { level });
}

/** One entry of a tree on disk, as read for a commit. */
export interface SourceEntry {
  /** lstat's mode (type and permission bits), owner and size. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** A symlink's target. */
  target: string | null;
  /** A regular file below the size limit: its content is in the scratch buffer, this long. */
  length: number;
  /** A regular file at or above the limit: not read. */
  large: boolean;
  xattrs: Array<{ name: string; value: Uint8Array }>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * lstat `path`; read a symlink's target, or a regular file smaller than
 * `largeAt` bytes into `scratch`; and list its xattrs unless `noXattrs`.
 * Other file types come back with only their stat. A file whose size
 * changes while it is read throws E_CHANGED (code 'ECHANGED').
 */
export function readSourceEntrySync(path: string, scratch: Buffer, largeAt: number, noXattrs: boolean): SourceEntry {
  const st = lstatSync(path);
  const type = st.mode & S_IFMT;
  const entry: SourceEntry = { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, target: null, length: 0, large: false, xattrs: [] };
  if (type === S_IFLNK) entry.target = readlinkSync(path, 'utf8');
  else if (type !== S_IFREG) return entry;
  else if (st.size >= largeAt) entry.large = true;
  else if (st.size > 0) {
    const fd = openSync(path, 'r');
    try {
      let n = 0;
      for (;;) {
        // One byte more than expected tells a file that grew.
        const r = readSync(fd, scratch, n, Math.min(scratch.length, st.size + 1) - n, n);
        if (r === 0) break;
        n += r;
        if (n > st.size) break;
      }
      if (n !== st.size) throw Object.assign(new Error(`${path} changed size while it was being read`), { code: 'ECHANGED', path });
      entry.length = n;
    } finally {
      closeSync(fd);
    }
  }
  if (!noXattrs) entry.xattrs = readXattrsSync(path);
  return entry;
}

/** Feed a whole file to `sink`, `scratch` at a time, on this thread; returns its length. */
export function readChunksSync(path: string, scratch: Buffer, sink: (chunk: Buffer) => void): number {
  const fd = openSync(path, 'r');
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      if (n === 0) return total;
      sink(scratch.subarray(0, n));
      total += n;
    }
  } finally {
    closeSync(fd);
  }
}

export { lstatSync, readFileSync, readlinkSync } from 'node:fs';

/** The names in a directory, or none when it does not exist. */
export function listNamesSync(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}
