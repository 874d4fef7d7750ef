/** fsck: every object re-hashed and re-parsed; every commit's closure present. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { lookup } from '../format/gvariant.js';
import { decodeMetadata, type ObjectType } from '../format/objects.js';
import { fsp } from '../io/fs.js';
import { startWorker, type WorkerHandle } from '../io/worker.js';
import { markCommitPartial } from './commit-partial.js';
import { listRefs } from './refs.js';
import type { Repo } from './repo.js';
import { objectKey, splitKey, traverseCommit, type ObjectKey } from './traverse.js';
import { problemOf, type FsckProfile } from './fsck-verify.js';
import type { FsckReply, FsckRequest } from './fsck-worker.js';
import { storedContentChecksum, verifyMetadata } from './verify-object.js';

export interface FsckProblem {
  checksum: string;
  type: ObjectType | 'ref';
  kind: 'corrupt' | 'missing' | 'bad-ref';
  message: string;
  /** The ref or commit that led to it, when known. */
  context?: string;
}

export interface FsckReport {
  apiVersion: 'ostree-ts/v1';
  kind: 'FsckReport';
  repo: string;
  objects: number;
  commits: number;
  partialCommits: string[];
  problems: FsckProblem[];
  deleted: string[];
}

export interface FsckOptions {
  /** Remove corrupt objects and mark commits that need them as partial. */
  delete?: boolean;
  /** Objects checked at once on the main thread; when set, every object is (no worker threads). */
  concurrency?: number;
  onProgress?: (e: { phase: 'fsck'; done: number; total: number }) => void;
  signal?: AbortSignal;
}

async function verifyObject(repo: Repo, checksum: string, type: ObjectType, scratch: Buffer): Promise<string | null> {
  try {
    if (type === 'file') {
      const actual = await storedContentChecksum(await repo.loadFile(checksum), { archive: repo.isArchive, scratch });
      return actual === checksum ? null : `content checksum is ${actual}, not ${checksum}`;
    }
    const bytes = await repo.readMetadataBytes(type, checksum);
    if (type === 'commitmeta' || type === 'tombstone-commit') {
      decodeMetadata(bytes);
      return null;
    }
    verifyMetadata(checksum, type, bytes);
    return null;
  } catch (e) {
    return problemOf(e, checksum);
  }
}

/** Check `keys` here, `concurrency` at once. */
async function checkOnMain(repo: Repo, keys: ObjectKey[], record: (key: ObjectKey, problem: string | null) => void, opts: FsckOptions): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    const scratch = Buffer.allocUnsafe(512 * 1024);
    while (next < keys.length) {
      const key = keys[next++];
      const o = splitKey(key);
      opts.signal?.throwIfAborted();
      record(key, await verifyObject(repo, o.checksum, o.type, scratch));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
}

/** What walking a commit's tree found: partial, unreadable (`error`), or the objects it lacks; `reach` when kept. */
interface CommitWalk {
  checksum: string;
  partial: boolean;
  error?: string;
  missing: ObjectKey[];
  reach?: Set<ObjectKey>;
}

/** Walk each commit's tree against `present`, one commit after another; `keepReach` keeps what each reaches. */
async function walkCommits(repo: Repo, commits: ObjectKey[], present: Set<ObjectKey>, keepReach: boolean): Promise<CommitWalk[]> {
  const out: CommitWalk[] = [];
  for (const key of commits) {
    const { checksum } = splitKey(key);
    if (await repo.isCommitPartial(checksum)) {
      out.push({ checksum, partial: true, missing: [] });
      continue;
    }
    const reach = new Set<ObjectKey>();
    const missing = new Set<ObjectKey>();
    try {
      await traverseCommit(repo, checksum, reach, { depth: 0, missing, present });
    } catch (e) {
      if (!(e instanceof OstreeTsError)) throw e;
      out.push({ checksum, partial: false, error: e.message, missing: [] });
      continue;
    }
    out.push({ checksum, partial: false, missing: [...missing], reach: keepReach ? reach : undefined });
  }
  return out;
}

/** From this many objects on, two worker threads check them (a smaller repository is done before they would start). */
const WORKERS_FROM = 512;
const BATCH = 128;

/**
 * Two worker threads (fsck-worker.ts) that check objects in batches, each
 * object in one run of synchronous calls there. Started as soon as the
 * listing shows enough objects, so they are ready when it ends.
 */
class FsckPool {
  private readonly profile: FsckProfile;
  private readonly waiting = new Map<number, { resolve: (r: FsckReply) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;
  private readonly workers: Array<WorkerHandle<FsckRequest, FsckReply>>;
  private nextId = 1;

  constructor(private readonly repo: Repo) {
    this.profile = { mode: repo.mode, disableXattrs: repo.disableXattrs, holdAtMost: 4 * 1024 * 1024 };
    this.workers = [0, 1].map(() => startWorker<FsckRequest, FsckReply>(new URL('./fsck-worker.js', import.meta.url), (reply) => {
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      w?.resolve(reply);
    }, (e) => this.fail(e)));
  }

  private fail(e: Error): void {
    this.failed ??= new OstreeTsError(Codes.IO, `A worker thread checking the objects of ${this.repo.path} failed: ${e.message}. Run fsck again.`, { path: this.repo.path }, { cause: e });
    for (const w of this.waiting.values()) w.reject(this.failed);
    this.waiting.clear();
  }

  /** Check `keys`; `record` gets each finding as it comes. What a worker leaves (archive objects too large to hold) is checked here after. */
  async check(keys: ObjectKey[], record: (key: ObjectKey, problem: string | null) => void, signal?: AbortSignal): Promise<void> {
    let next = 0;
    const deferred: ObjectKey[] = [];
    const feed = async (w: WorkerHandle<FsckRequest, FsckReply>): Promise<void> => {
      while (next < keys.length) {
        if (this.failed) throw this.failed;
        signal?.throwIfAborted();
        const batch = keys.slice(next, next + BATCH);
        next += batch.length;
        const id = this.nextId++;
        const reply = await new Promise<FsckReply>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject });
          w.post({ id, profile: this.profile, items: batch.map((k) => { const { checksum, type } = splitKey(k); return { checksum, type, path: this.repo.objectPath(checksum, type) }; }) });
        });
        reply.results.forEach((r, i) => {
          if (r === 'defer') deferred.push(batch[i]);
          else if (r === null || typeof r === 'string') record(batch[i], r);
          else throw Object.assign(new Error(r.message), { code: r.errno, path: r.path, syscall: r.syscall });
        });
      }
    };
    // Two batches in flight on each worker: one is checked while the other's findings come back.
    await Promise.all(this.workers.flatMap((w) => [feed(w), feed(w)]));
    await this.close();
    const scratch = Buffer.allocUnsafe(512 * 1024);
    for (const k of deferred) {
      const { checksum, type } = splitKey(k);
      record(k, await verifyObject(this.repo, checksum, type, scratch));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export async function fsck(repo: Repo, opts: FsckOptions = {}): Promise<FsckReport> {
  // Exclusive to delete; shared to read, so that a prune under way is not taken for damage.
  return repo.withLock(opts.delete ? 'exclusive' : 'shared', opts.delete ? 'fsck --delete' : 'fsck', () => fsckLocked(repo, opts));
}

async function fsckLocked(repo: Repo, opts: FsckOptions): Promise<FsckReport> {
  const report: FsckReport = {
    apiVersion: 'ostree-ts/v1', kind: 'FsckReport', repo: repo.path,
    objects: 0, commits: 0, partialCommits: [], problems: [], deleted: [],
  };
  // Refs must name commits that exist.
  let refs: Awaited<ReturnType<typeof listRefs>> = [];
  try {
    refs = await listRefs(repo);
  } catch (e) {
    if (!(e instanceof OstreeTsError)) throw e;
    report.problems.push({ checksum: '', type: 'ref', kind: 'bad-ref', message: e.message });
  }
  for (const r of refs) {
    if (!(await repo.hasObject(r.checksum, 'commit'))) {
      report.problems.push({ checksum: r.checksum, type: 'commit', kind: 'missing', message: `ref ${r.refspec} points at commit ${r.checksum}, which is missing`, context: r.refspec });
    }
  }
  // Objects are held as their keys only (CHECKSUM.TYPE): a few dozen bytes each.
  const all: ObjectKey[] = [];
  let pool: FsckPool | null = null;
  try {
    for await (const o of repo.listObjects()) {
      all.push(objectKey(o.checksum, o.type));
      if (!pool && opts.concurrency === undefined && all.length === WORKERS_FROM) pool = new FsckPool(repo);
    }
    return await checkAndWalk(repo, opts, report, all, pool);
  } finally {
    await pool?.close();
  }
}

/** Check every object in `all` (on `pool`, or here), and walk every commit's tree. */
async function checkAndWalk(repo: Repo, opts: FsckOptions, report: FsckReport, all: ObjectKey[], pool: FsckPool | null): Promise<FsckReport> {
  report.objects = all.length;
  const corrupt = new Set<ObjectKey>();
  const found: FsckProblem[] = [];
  let done = 0;
  const record = (key: ObjectKey, problem: string | null): void => {
    if (problem) {
      const o = splitKey(key);
      corrupt.add(key);
      found.push({ checksum: o.checksum, type: o.type, kind: 'corrupt', message: `object ${o.checksum}.${o.type} is corrupt: ${problem}` });
    }
    done++;
    if (opts.onProgress && (done % 512 === 0 || done === all.length)) opts.onProgress({ phase: 'fsck', done, total: all.length });
  };
  const checking = pool ? pool.check(all, record, opts.signal) : checkOnMain(repo, all, record, opts);
  // Without --delete (which walks what survives it), the commits' trees are walked while the objects are checked: the walk needs only what is present.
  const early = opts.delete ? null : walkCommits(repo, all.filter((k) => k.endsWith('.commit')), new Set(all), false);
  early?.catch(() => undefined);
  await checking;
  // Problems in the order of the objects, however the checks were spread.
  found.sort((a, b) => (a.checksum < b.checksum ? -1 : a.checksum > b.checksum ? 1 : 0));
  report.problems.push(...found);
  // Each complete commit must have its whole tree (a corrupt commit object is reported as such, not walked).
  const walks = early
    ? (await early).filter((w) => !corrupt.has(objectKey(w.checksum, 'commit')))
    : await walkCommits(repo, all.filter((k) => k.endsWith('.commit') && !corrupt.has(k)), new Set(all.filter((k) => !corrupt.has(k))), true);
  all.length = 0;
  report.commits = walks.length;
  const needMarking = new Set<string>();
  for (const w of walks) {
    if (w.partial) {
      report.partialCommits.push(w.checksum);
      continue;
    }
    if (w.error !== undefined) {
      report.problems.push({ checksum: w.checksum, type: 'commit', kind: 'corrupt', message: `commit ${w.checksum}: ${w.error}` });
      needMarking.add(w.checksum);
      continue;
    }
    for (const k of w.missing) {
      const { checksum, type } = splitKey(k);
      report.problems.push({ checksum, type, kind: 'missing', message: `object ${checksum}.${type} needed by commit ${w.checksum} is missing`, context: w.checksum });
      needMarking.add(w.checksum);
    }
    for (const k of w.reach ?? []) if (corrupt.has(k)) needMarking.add(w.checksum);
  }
  if (opts.delete) {
    for (const k of corrupt) {
      const { checksum, type } = splitKey(k);
      await fsp.rm(repo.objectPath(checksum, type), { force: true });
      report.deleted.push(k);
    }
    for (const c of needMarking) {
      await markCommitPartial(repo, c, { durable: repo.fsyncEnabled });
      report.partialCommits.push(c);
    }
  }
  return report;
}

/**
 * `fsck --verify-bindings`: every ref's commit, when it has
 * `ostree.ref-binding`, lists that ref; with `backRefs`, every ref a commit
 * lists exists. The first mismatch is thrown, as ostree reports it.
 */
export async function verifyRefBindings(repo: Repo, opts: { backRefs?: boolean } = {}): Promise<void> {
  const refs = await listRefs(repo);
  const bindingsOf = async (checksum: string): Promise<string[] | undefined> => {
    const c = await repo.loadCommit(checksum);
    return lookup(c.metadata, 'ostree.ref-binding', 'as') as string[] | undefined;
  };
  for (const r of refs) {
    if (!(await repo.hasObject(r.checksum, 'commit'))) continue;
    const bound = await bindingsOf(r.checksum);
    if (bound && !bound.includes(r.ref)) {
      throw new OstreeTsError(Codes.OBJECT_INVALID, `Commit ${r.checksum}: Commit has no requested ref ‘${r.ref}’ in ref binding metadata (‘${bound.join('’, ‘')}’)`, { checksum: r.checksum, ref: r.ref, bindings: bound });
    }
  }
  if (!opts.backRefs) return;
  const names = new Set(refs.map((r) => r.ref));
  for await (const o of repo.listObjects()) {
    if (o.type !== 'commit') continue;
    for (const ref of (await bindingsOf(o.checksum)) ?? []) {
      if (!names.has(ref)) {
        throw new OstreeTsError(Codes.OBJECT_INVALID, `Ref ‘${ref}’ in bindings for commit ${o.checksum} does not exist`, { checksum: o.checksum, ref });
      }
    }
  }
}
