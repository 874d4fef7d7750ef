/**
 * Synchronous file creation, for a worker thread that writes many small
 * objects: each file is created, filled, given its owner, xattrs, mode and a
 * zero mtime in one run of system calls on that thread, with none of the
 * thread-pool round trips the asynchronous calls make per step (which cost a
 * pull more than the writing itself). Never use these on the main thread.
 */
import {
  closeSync, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, lutimesSync, openSync, renameSync, symlinkSync, writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';

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
