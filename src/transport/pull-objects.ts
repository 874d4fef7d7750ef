/**
 * The objects of one commit's tree that a repository lacks, fetched from a
 * remote: directories first (they say what else is needed), a bounded number
 * of requests at once, each object checked before it is stored. With
 * subpaths, only what lies under them (and the directories leading there) is
 * fetched, as libostree's `subdirs` pull option does. Without a store (a dry
 * run) only directory listings are fetched, into memory, to count the rest.
 */
import { setMaxListeners } from 'node:events';
import { Codes, OstreeTsError } from '../errors/index.js';
import { decodeDirTree, objectRelPath, type ObjectType, decodeArchiveHeader } from '../format/objects.js';
import { checkBareUserOnlyFile } from '../repo/stored-form.js';
import type { ObjectSize } from '../format/sizes.js';
import type { Fetcher } from '../io/http-client.js';
import type { BatchedStore } from '../repo/batched-store.js';
import type { ObjectIndex } from '../repo/object-index.js';
import type { Repo } from '../repo/repo.js';
import { fsp } from '../io/fs.js';
import { readFilezHeader } from '../repo/verify-object.js';
import { checkServedMetadata, servedError } from './served-object.js';

/** Objects at least this large (compressed) are spooled to disk, not held in memory. */
export const SPOOL_OVER = 4 * 1024 * 1024;
/** Fetched objects waiting to be checked and written, at most (a bound on memory). */
const MAX_STORING = 512;
const MAX_STORING_BYTES = 64 * 1024 * 1024;

/** What a pull has done and knows it still has to do. */
export interface PullCounters {
  /** Objects fetched (and stored, unless a dry run). */
  fetched: number;
  /** Objects known to be needed so far: grows while directories are scanned. */
  needed: number;
  /** Of those, metadata (dirtree, dirmeta, commit) objects. */
  metadataNeeded: number;
  metadataFetched: number;
  /** Directories still to be read: while above zero, `needed` may grow. */
  scanning: number;
  /** Sum of the sizes of the needed objects, as served; exact only while `neededBytesKnown`. */
  neededBytes: number;
  neededBytesKnown: boolean;
}

export function newCounters(): PullCounters {
  return { fetched: 0, needed: 0, metadataNeeded: 0, metadataFetched: 0, scanning: 0, neededBytes: 0, neededBytesKnown: true };
}

export interface TreeWalk {
  repo: Repo;
  base: string;
  fetcher: Fetcher;
  index: ObjectIndex;
  /** `CHECKSUM.TYPE` of every object already handled in this pull (shared by its commits). */
  seen: Set<string>;
  /** Null for a dry run: nothing is stored, content is only counted. */
  store: BatchedStore | null;
  counters: PullCounters;
  changed: () => void;
  /** Absolute paths whose objects alone are wanted (null: the whole tree). */
  subpaths: string[] | null;
  /** Sizes the commit lists (ostree.sizes), when it does. */
  sizes: Map<string, ObjectSize> | null;
  concurrency: number;
  /** Refuse regular files with mode bits outside 0775 (setuid, world-writable...), as `--bareuseronly-files`. */
  bareUserOnlyFiles?: boolean;
  signal?: AbortSignal;
}

/** `--bareuseronly-files`: a served file object whose regular file has mode bits outside 0775 is refused before it is stored. */
async function checkBareUserOnly(checksum: string, body: Buffer | { path: string; size: number }): Promise<void> {
  const { header } = Buffer.isBuffer(body) ? decodeArchiveHeader(body, `file object ${checksum}`) : await readFilezHeader(checksum, body);
  checkBareUserOnlyFile(checksum, header);
}

interface Job {
  checksum: string;
  type: 'dirtree' | 'dirmeta' | 'file';
  /** For a dirtree: its path, ending in '/'. */
  dir?: string;
  /** Known to be missing here: to be fetched. */
  missing: boolean;
}

export function objectUrl(base: string, checksum: string, type: ObjectType): string {
  return `${base}objects/${objectRelPath(checksum, type, true)}`;
}

/**
 * Is `current` (a file, or a directory when `isDir`) wanted for the subpath
 * `wanted`? Directories leading to it are; everything below it is.
 */
export function matchesSubpath(current: string, wanted: string, isDir: boolean): boolean {
  if (wanted === '/') return true;
  if (wanted.startsWith(current)) {
    const rest = wanted.slice(current.length);
    if (rest === '') return true;
    return rest[0] === '/' && isDir;
  }
  return current.startsWith(wanted) && current[wanted.length] === '/';
}

/** Fetch (or, in a dry run, count) what `commit`'s tree needs. */
export async function walkTree(w: TreeWalk, commit: string, rootTree: string, rootMeta: string): Promise<void> {
  // Directories before files: they say what else is needed, so the totals settle early.
  const dirJobs: Job[] = [];
  const fileJobs: Job[] = [];
  const wanted = (p: string, isDir: boolean): boolean => !w.subpaths || w.subpaths.some((s) => matchesSubpath(p, s, isDir));

  const add = async (checksum: string, type: Job['type'], dir?: string): Promise<void> => {
    const key = `${checksum}.${type}`;
    if (w.seen.has(key)) return;
    w.seen.add(key);
    const missing = !(await w.index.has(checksum, type));
    if (type === 'dirtree') w.counters.scanning++;
    if (missing) {
      w.counters.needed++;
      if (type !== 'file') w.counters.metadataNeeded++;
      const size = w.sizes?.get(key);
      if (size) w.counters.neededBytes += size.archived;
      else w.counters.neededBytesKnown = false;
    }
    if (type === 'file') {
      if (missing) fileJobs.push({ checksum, type, missing });
    } else if (missing || type === 'dirtree') {
      dirJobs.push({ checksum, type, dir, missing });
    }
  };

  const missingObject = (job: Job): OstreeTsError => new OstreeTsError(Codes.OBJECT_MISSING,
    `The remote has no ${job.type} object ${job.checksum} (404), which commit ${commit} needs. The remote repository is incomplete; no ref was moved.`,
    { checksum: job.checksum, type: job.type });

  // Fetching and storing overlap: a fetch slot is free again once its body has
  // arrived; the object is checked and written while the next ones come in.
  const fetching = new Set<Promise<void>>();
  const storing = new Set<Promise<void>>();
  let storingBytes = 0;
  let failure: { e: unknown } | null = null;
  // The first failure (a full disk, a stalled server) ends the fetches still under way: the pull stops at once.
  const stop = new AbortController();
  // Every request under way listens to it.
  setMaxListeners(Infinity, stop.signal);
  const onOuterAbort = (): void => stop.abort(w.signal?.reason);
  w.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = stop.signal;
  // One wake-up for the scheduling loop when anything finishes (not a race over every promise).
  let settled = false;
  let wake: (() => void) | null = null;
  const track = (set: Set<Promise<void>>, p: Promise<void>, bytes = 0): void => {
    storingBytes += bytes;
    const q: Promise<void> = p
      .catch((e) => {
        failure ??= { e };
        stop.abort(e);
      })
      .finally(() => {
        set.delete(q);
        storingBytes -= bytes;
        settled = true;
        wake?.();
      });
    set.add(q);
  };

  const work = async (job: Job): Promise<void> => {
    signal.throwIfAborted();
    const store = w.store;
    if (job.type === 'file') {
      if (!store) return; // a dry run counts content, never fetches it
      const body = await w.fetcher.getOrSpool(objectUrl(w.base, job.checksum, 'file'), {
        spoolOver: SPOOL_OVER, spoolPath: () => store.spoolPath(), signal,
      });
      if (!body) throw missingObject(job);
      if (w.bareUserOnlyFiles) {
        await checkBareUserOnly(job.checksum, body).catch(async (e: unknown) => {
          if (!Buffer.isBuffer(body)) await fsp.rm(body.path, { force: true });
          throw e;
        });
      }
      track(storing, store.content(job.checksum, body).catch((e) => { throw servedError(e); }).then(() => {
        w.counters.fetched++;
        w.changed();
      }), Buffer.isBuffer(body) ? body.length : 0);
      return;
    }
    let data: Buffer;
    if (job.missing) {
      const got = await w.fetcher.get(objectUrl(w.base, job.checksum, job.type), { maxBytes: 128 * 1024 * 1024, signal });
      if (!got) throw missingObject(job);
      checkServedMetadata(job.checksum, job.type, got);
      const stored = store ? store.metadata(job.type, job.checksum, got) : Promise.resolve();
      track(storing, stored.then(() => {
        w.counters.fetched++;
        w.counters.metadataFetched++;
        w.changed();
      }), got.length);
      data = got;
    } else {
      // A small local file: one blocking read costs less than the thread pool's round trips (stat, open, fstat, read, close).
      data = w.repo.readMetadataBytesSync('dirtree', job.checksum);
    }
    if (job.type === 'dirtree') {
      // Its entries are known now: the rest of the tree need not wait for it to be written.
      const tree = decodeDirTree(data, job.checksum);
      const dir = job.dir ?? '/';
      for (const f of tree.files) if (wanted(dir + f.name, false)) await add(f.checksum, 'file');
      for (const d of tree.dirs) {
        if (!wanted(dir + d.name, true)) continue;
        await add(d.tree, 'dirtree', `${dir}${d.name}/`);
        await add(d.meta, 'dirmeta');
      }
      w.counters.scanning--;
      w.changed();
    }
  };

  try {
    await add(rootTree, 'dirtree', '/');
    await add(rootMeta, 'dirmeta');
    w.changed();

    for (;;) {
      while (!failure && fetching.size < w.concurrency && storing.size < MAX_STORING && storingBytes < MAX_STORING_BYTES
        && (dirJobs.length || fileJobs.length)) {
        const job = (dirJobs.length ? dirJobs.shift() : fileJobs.pop()) as Job;
        track(fetching, work(job));
      }
      if (!fetching.size && !storing.size) break;
      if (!settled) await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
      settled = false;
      if (failure) {
        await Promise.allSettled([...fetching, ...storing]);
        throw (failure as { e: unknown }).e;
      }
    }
  } finally {
    w.signal?.removeEventListener('abort', onOuterAbort);
  }
}
