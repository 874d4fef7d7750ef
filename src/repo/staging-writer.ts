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
import { Codes, OstreeTsError } from '../errors/index.js';
import { startWorker, type WorkerHandle } from '../io/index.js';
import type { Repo, RepoMode } from './repo.js';

/** A metadata object already checked by the caller, or a served `.filez` to check here. */
export type StageItem =
  | { kind: 'metadata'; dest: string; data: Uint8Array }
  | { kind: 'filez'; dest: string; checksum: string; data: Uint8Array };

export interface StageRequest {
  id: number;
  mode: RepoMode;
  items: StageItem[];
}

/** `bad`: the object is not what its name says (why). Otherwise a failure writing it. */
export type StageResult =
  | { ok: true; bytes: number }
  | { ok: false; bad?: string; code?: string; errno?: string; message: string; data?: Record<string, unknown> };

export interface StageReply {
  id: number;
  results: StageResult[];
}

/** The object named by `checksum` is not what it claims: what was wrong, for the caller's message. */
export class BadObjectError extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** Items sent to the worker at once, at most. */
const BATCH_ITEMS = 64;
const BATCH_BYTES = 8 * 1024 * 1024;

export class StagingWriter {
  private worker: WorkerHandle<StageRequest, StageReply> | null = null;
  private nextId = 1;
  private readonly inflight = new Map<number, Array<{ resolve: (n: number) => void; reject: (e: Error) => void }>>();
  private queue: Array<{ item: StageItem; resolve: (n: number) => void; reject: (e: Error) => void }> = [];
  private queuedBytes = 0;
  private scheduled = false;
  private failed: Error | null = null;

  constructor(private readonly repo: Repo) {}

  /** Stage one object; resolves with the bytes written. A bad object rejects with BadObjectError. */
  write(item: StageItem): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.queuedBytes += item.data.length;
      if (this.queue.length >= BATCH_ITEMS || this.queuedBytes >= BATCH_BYTES) this.send();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  private start(): WorkerHandle<StageRequest, StageReply> {
    this.worker ??= startWorker<StageRequest, StageReply>(
      new URL('./staging-worker.js', import.meta.url),
      (reply) => this.onReply(reply),
      (e) => this.onFailure(new OstreeTsError(Codes.IO, `The worker thread writing objects into ${this.repo.path} failed: ${e.message}. Nothing it was writing became visible; pull again.`, { path: this.repo.path }, { cause: e })),
    );
    return this.worker;
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
    this.start().post({ id, mode: this.repo.mode, items: batch.map((b) => b.item) });
  }

  private onReply(reply: StageReply): void {
    const waiters = this.inflight.get(reply.id);
    if (!waiters) return;
    this.inflight.delete(reply.id);
    reply.results.forEach((r, i) => {
      const w = waiters[i];
      if (r.ok) w.resolve(r.bytes);
      else if (r.bad !== undefined) w.reject(new BadObjectError(r.bad));
      else if (r.code) w.reject(new OstreeTsError(r.code, r.message, r.data ?? {}));
      else w.reject(Object.assign(new Error(r.message), { code: r.errno }));
    });
  }

  private onFailure(e: Error): void {
    this.failed = e;
    for (const waiters of this.inflight.values()) for (const w of waiters) w.reject(e);
    this.inflight.clear();
    for (const q of this.queue) q.reject(e);
    this.queue = [];
  }

  /** Stop the worker (after every write has been answered). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
