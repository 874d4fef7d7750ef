/**
 * Objects written into a transaction's staging directory by a worker thread.
 *
 * A pull stores thousands of small objects. Written from the main thread,
 * each one costs a dozen trips through libuv's thread pool (open, write,
 * close, xattr, times, ...), and on a small machine those hand-offs, not the
 * writing, were most of a pull's time. Here a worker receives the objects in
 * batches and, for each, checks it (archive-form content: header, inflate,
 * checksum) and creates its staged file in one run of synchronous calls,
 * while the main thread goes on fetching. The caller then adopts each staged
 * file into its transaction (`Transaction.adoptStaged`).
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { startWorker, type WorkerHandle } from '../io/worker.js';
import type { FileHeader } from '../format/objects.js';
import type { UniformRules } from './commit-filter.js';
import type { Repo } from './repo.js';
import type { StoreProfile } from './stored-form.js';
import { BadObjectError, type BadObjectFacts } from './verify-object.js';

/**
 * A metadata object already checked by the caller, a served `.filez` to
 * check here, content built in memory (a static delta's: hashed here against
 * `checksum` with its header, then written in the repository's form), a
 * staged file to move, or a file of a tree being committed (`source`: read,
 * hashed and, unless the repository has it, staged).
 *
 * `data` is copied to the worker with everything in its ArrayBuffer: it should
 * be a buffer of its own, not a view into a larger one.
 */
export type StageItem =
  | { kind: 'metadata'; dest: string; data: Uint8Array }
  | { kind: 'filez'; dest: string; checksum: string; data: Uint8Array }
  | { kind: 'content'; dest: string; checksum: string; header: FileHeader; data: Uint8Array }
  | { kind: 'rename'; dest: string; from: string }
  | { kind: 'source'; path: string };

/** How the files of a tree being committed become content objects (for `source` items). */
export interface SourceProfile {
  /** The transaction's staging directory, and the repository's objects/. */
  stagingDir: string;
  objectsDir: string;
  noXattrs: boolean;
  rules: UniformRules;
  /** Who owns a file the worker creates, when known: an owner that differs needs a chown, the same one none. */
  newFileOwner: { uid: number; gid: number } | null;
  /** Regular files this large or larger are left to the caller (`deferred`), which streams them. */
  largeAt: number;
}

export interface StageRequest {
  id: number;
  /** What the repository keeps: the worker refuses what it could not store faithfully. */
  profile: StoreProfile;
  /** The repository's compression level, for content it compresses (an archive repository). */
  zlibLevel: number;
  source?: SourceProfile;
  items: StageItem[];
}

/**
 * What became of a `source` item: its content object's checksum, whether
 * this worker staged it (not when the repository or the transaction had it)
 * the content's size and the bytes of its stored form; or `deferred` (a large file, for the caller); or
 * `special`, the lstat mode of what no content object can be (a device, say).
 */
export type SourceOutcome =
  | { checksum: string; written: boolean; size: number; stored: number }
  | { deferred: true }
  | { special: number };

/** `bad`: the object is not what its name says (the facts). Otherwise a failure writing it. */
export type StageResult =
  | { ok: true; bytes: number; source?: SourceOutcome }
  | { ok: false; bad?: BadObjectFacts; code?: string; errno?: string; path?: string; syscall?: string; message: string; data?: Record<string, unknown> };

export interface StageReply {
  id: number;
  results: StageResult[];
}

type StagedOk = Extract<StageResult, { ok: true }>;

/** Items sent to the worker at once, at most. */
const BATCH_ITEMS = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_WAIT_MS = 2;

export class StagingWriter {
  private workers: Array<WorkerHandle<StageRequest, StageReply>> = [];
  private turn = 0;
  private nextId = 1;
  private readonly inflight = new Map<number, Array<{ resolve: (r: StagedOk) => void; reject: (e: Error) => void }>>();
  private queue: Array<{ item: StageItem; resolve: (r: StagedOk) => void; reject: (e: Error) => void }> = [];
  private queuedBytes = 0;
  private scheduled = false;
  private failed: Error | null = null;

  /** `threads`: worker threads to share the batches (round robin); `source`: for `commitFile`. */
  constructor(private readonly repo: Repo, private readonly threads = 2, private readonly source?: SourceProfile) {}

  /** Stage one object; resolves with the bytes written. A bad object rejects with BadObjectError. */
  async write(item: StageItem): Promise<number> {
    return (await this.enqueue(item)).bytes;
  }

  /** Read, hash and (unless the repository has it) stage the file at `path` of a tree being committed. */
  async commitFile(path: string): Promise<SourceOutcome> {
    if (!this.source) throw new InternalError('commitFile on a staging writer made without a source profile', { path });
    return (await this.enqueue({ kind: 'source', path })).source as SourceOutcome;
  }

  private enqueue(item: StageItem): Promise<StagedOk> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.queuedBytes += item.kind === 'rename' || item.kind === 'source' ? 0 : item.data.length;
      if (this.queue.length >= BATCH_ITEMS || this.queuedBytes >= BATCH_BYTES) this.send();
      else if (!this.scheduled) {
        // A moment's wait gathers a batch: one message (and one wake-up of a worker) for many objects.
        this.scheduled = true;
        setTimeout(() => {
          this.scheduled = false;
          this.send();
        }, BATCH_WAIT_MS);
      }
    });
  }

  /** Whether a worker thread runs (it starts with the first write). */
  get started(): boolean {
    return this.workers.length > 0;
  }

  /** The next worker in turn, started on first use. */
  private next(): WorkerHandle<StageRequest, StageReply> {
    const i = this.turn++ % Math.max(1, this.threads);
    this.workers[i] ??= startWorker<StageRequest, StageReply>(
      new URL('./staging-worker.js', import.meta.url),
      (reply) => this.onReply(reply),
      (e) => this.onFailure(new OstreeTsError(Codes.IO, `A worker thread writing objects into ${this.repo.path} failed: ${e.message}. Nothing it was writing became visible; pull again.`, { path: this.repo.path }, { cause: e })),
    );
    return this.workers[i];
  }

  private send(): void {
    if (!this.queue.length) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.failed) {
      for (const b of batch) b.reject(this.failed);
      return;
    }
    const id = this.nextId++;
    this.inflight.set(id, batch.map(({ resolve, reject }) => ({ resolve, reject })));
    this.next().post({ id, profile: { mode: this.repo.mode, disableXattrs: this.repo.disableXattrs }, zlibLevel: this.repo.zlibLevel, source: this.source, items: batch.map((b) => b.item) });
  }

  private onReply(reply: StageReply): void {
    const waiters = this.inflight.get(reply.id);
    if (!waiters) return;
    this.inflight.delete(reply.id);
    reply.results.forEach((r, i) => {
      const w = waiters[i];
      if (r.ok) w.resolve(r);
      else if (r.bad !== undefined) w.reject(new BadObjectError(r.bad));
      else if (r.code) w.reject(new OstreeTsError(r.code, r.message, r.data ?? {}));
      else w.reject(Object.assign(new Error(r.message), { code: r.errno, path: r.path, syscall: r.syscall }));
    });
  }

  private onFailure(e: Error): void {
    this.failed = e;
    for (const waiters of this.inflight.values()) for (const w of waiters) w.reject(e);
    this.inflight.clear();
    for (const q of this.queue) q.reject(e);
    this.queue = [];
  }

  /** rename(2) each pair on the worker (a transaction's commit: see TransactionCommitOptions.rename). */
  async renameAll(moves: Array<[string, string]>): Promise<void> {
    await Promise.all(moves.map(([from, dest]) => this.write({ kind: 'rename', from, dest })));
  }

  /** Stop the worker (after every write has been answered). */
  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w?.terminate()));
  }
}
