/**
 * Free space, and the one place where a full disk becomes an error people can
 * act on: ENOSPC and EDQUOT (blocks, inodes or a quota), from any writer,
 * turn into `E_NO_SPACE` naming the operation, the path and what is left.
 */
import { statfs } from 'node:fs';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../errors/index.js';

/** A filesystem's size and what is left of it (statfs(2)). */
export interface FsSpace {
  /** The block size (f_bsize): space is reserved in these. */
  blockSize: number;
  /** The fragment size (f_frsize): `blocks` counts these. */
  fragmentSize: number;
  blocks: number;
  /** Free blocks (f_bfree), root's view. */
  freeBlocks: number;
  /** Free blocks an unprivileged writer may use (f_bavail). */
  availableBlocks: number;
  files: number;
  freeFiles: number;
}

/** statfs(2) of the filesystem holding `p` (or, when `p` does not exist yet, its nearest existing parent). */
export async function filesystemSpace(p: string): Promise<FsSpace> {
  let at = path.resolve(p);
  for (;;) {
    try {
      return await new Promise<FsSpace>((resolve, reject) => {
        statfs(at, (err, s) => (err ? reject(err) : resolve({
          blockSize: Number(s.bsize),
          // Node reports f_bsize only; on Linux f_frsize equals it for every filesystem ostree runs on.
          fragmentSize: Number(s.bsize),
          blocks: Number(s.blocks),
          freeBlocks: Number(s.bfree),
          availableBlocks: Number(s.bavail),
          files: Number(s.files),
          freeFiles: Number(s.ffree),
        })));
      });
    } catch (e) {
      const parent = path.dirname(at);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
      if (parent === at) throw e;
      at = parent;
    }
  }
}

const NO_SPACE_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);

/** The ENOSPC or EDQUOT error in `e` or its causes, if any. */
export function noSpaceErrno(e: unknown): NodeJS.ErrnoException | null {
  for (let cur: unknown = e, depth = 0; cur && depth < 8; depth++) {
    if (typeof cur !== 'object') return null;
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && NO_SPACE_ERRNOS.has(code)) return cur as NodeJS.ErrnoException;
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

/** Whether `e` is (or was caused by) a full filesystem or quota, and not already told as such. */
export function isNoSpace(e: unknown): boolean {
  if (e instanceof OstreeTsError && e.code === Codes.NO_SPACE) return false;
  return noSpaceErrno(e) !== null;
}

/** "12.3 MB" (SI units, and a no-break space before the unit, as GLib's g_format_size), "512 bytes". */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)}\u00a0${units[i]}`;
}

interface SpaceLeft {
  text: string;
  bytes: number | null;
  inodes: number | null;
}

/** Where the space measured when an error happened is kept on it (a property of the error, not module state). */
const AT_FAILURE = Symbol('space left when the write failed');

/**
 * Measure what is left where `e` (ENOSPC, EDQUOT) happened, now, before the
 * failed operation cleans up after itself and frees what it had taken; the
 * error then reports that figure. Does nothing for other errors.
 */
export async function recordSpaceAtFailure(e: unknown, p?: string): Promise<void> {
  const errno = noSpaceErrno(e);
  if (!errno || AT_FAILURE in errno) return;
  const at = typeof errno.path === 'string' && errno.path ? errno.path : p;
  if (!at) return;
  Object.defineProperty(errno, AT_FAILURE, { value: await spaceLeft(at, process.getuid?.() === 0), enumerable: false });
}

/** What is left on the filesystem of `p`, in words ("1.2 MB free, 30 inodes free"); null when it cannot be told. */
async function spaceLeft(p: string, privileged: boolean): Promise<SpaceLeft> {
  try {
    const s = await filesystemSpace(p);
    const bytes = (privileged ? s.freeBlocks : s.availableBlocks) * s.blockSize;
    // Filesystems without an inode table (btrfs) report zero files.
    const inodes = s.files > 0 ? s.freeFiles : null;
    const inodeText = inodes === null ? '' : inodes === 0 ? ', and no inodes left (no new file can be created)' : `, ${inodes} inodes free`;
    return { text: `${formatSize(bytes)} free${inodeText}`, bytes, inodes };
  } catch {
    return { text: 'free space unknown', bytes: null, inodes: null };
  }
}

export interface NoSpaceContext {
  /** What was being done, as a phrase: "committing into /srv/repo", "pulling os/stable from origin". */
  operation: string;
  /** The path written (used when the errno itself names none): its filesystem is the one measured. */
  path: string;
  /** The next step, when the caller knows a better one than freeing space and trying again. */
  next?: string;
}

/**
 * `E_NO_SPACE` for a write that failed with ENOSPC or EDQUOT: the operation,
 * the file, the errno and what is left on that filesystem.
 */
export async function noSpaceError(e: unknown, ctx: NoSpaceContext): Promise<OstreeTsError> {
  const errno = noSpaceErrno(e);
  const code = errno?.code ?? 'ENOSPC';
  const file = typeof errno?.path === 'string' && errno.path ? errno.path : ctx.path;
  const recorded = errno ? (errno as unknown as Record<symbol, SpaceLeft | undefined>)[AT_FAILURE] : undefined;
  const left = recorded ?? await spaceLeft(file, process.getuid?.() === 0);
  const what = code === 'EDQUOT' ? 'The disk quota is exhausted' : 'No space left on the device';
  const next = ctx.next ?? 'Free some space on that filesystem (ostree-ts prune removes unreachable objects), then run it again';
  return new OstreeTsError(Codes.NO_SPACE,
    `${what} while ${ctx.operation}: writing ${file} failed with ${code} (${left.text}). ${next}.`,
    { operation: ctx.operation, path: file, errno: code, freeBytes: left.bytes, freeInodes: left.inodes },
    { cause: e });
}

/** Run `fn`; a full filesystem or quota met anywhere inside becomes `E_NO_SPACE` (noSpaceError). */
export async function mapNoSpace<T>(ctx: NoSpaceContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isNoSpace(e)) throw await noSpaceError(e, ctx);
    throw e;
  }
}
