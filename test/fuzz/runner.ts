/**
 * Runs a target's fuzz job in a worker and watches it: an input still
 * running after the watchdog limit is a hang (the worker is stopped and the
 * input kept), a worker that runs out of its heap is a memory blow-up.
 */
import { Worker } from 'node:worker_threads';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SHARED_HEADER, type WorkerJob, type WorkerResult } from './worker.js';

/** An input running this long is stopped: well past the 1 s a parser may take, as CPU is shared. */
export const WATCHDOG_MS = 10_000;
/** The worker's heap: far more than any parser needs for a 128 KiB input. */
export const HEAP_MB = 1024;
const SHARED_INPUT = 1 << 20;

export interface RunOptions {
  runs: number;
  seed: number;
  path?: string;
  /** Called with the executions done so far, now and then. */
  onProgress?: (executions: number) => void;
  progressMs?: number;
}

export function runInWorker(target: string, opts: RunOptions): Promise<WorkerResult> {
  const shared = new SharedArrayBuffer(SHARED_HEADER + SHARED_INPUT);
  const state = new Int32Array(shared, 0, 3);
  const job: WorkerJob = { fuzzJob: true, target, runs: opts.runs, seed: opts.seed, path: opts.path, shared, progressMs: opts.progressMs ?? 0 };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: job, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB } });
  const t0 = performance.now();
  const stuck = (kind: string, error: string): WorkerResult => {
    const len = Atomics.load(state, 2);
    const input = Buffer.from(new Uint8Array(shared, SHARED_HEADER, Math.min(len, SHARED_INPUT)));
    return {
      target, seed: opts.seed, runs: Atomics.load(state, 1), ms: performance.now() - t0, failed: true, kind, error,
      counterexample: input.toString('hex'), slowestMs: 0, slowestLength: len, peakMemory: 0, results: {},
    };
  };
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = performance.now();
    let settled = false;
    const done = (r: WorkerResult | Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      void worker.terminate();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const timer = setInterval(() => {
      const n = Atomics.load(state, 1);
      const running = Atomics.load(state, 0) === 1;
      if (n !== last || !running) {
        last = n;
        since = performance.now();
        return;
      }
      if (performance.now() - since > WATCHDOG_MS) done(stuck('hang', `${target}: an input has run for over ${WATCHDOG_MS / 1000} s (execution ${n}).`));
    }, 250);
    worker.on('message', (m: { result?: WorkerResult; progress?: number }) => {
      if (m.progress !== undefined) opts.onProgress?.(m.progress);
      if (m.result) done(m.result);
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') done(stuck('memory', `${target}: an input exhausted the ${HEAP_MB} MiB heap (execution ${Atomics.load(state, 1)}).`));
      else done(e);
    });
    worker.on('exit', (code) => done(new Error(`${target}: the fuzz worker exited (${code}) before reporting.`)));
  });
}

/** Keep a failing input where a developer can pick it up as a regression fixture. */
export async function keepInput(r: WorkerResult): Promise<string | null> {
  if (!r.counterexample) return null;
  const dir = path.join(tmpdir(), 'ostree-ts-fuzz');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${r.target}-${r.seed}-${r.kind ?? 'failure'}.bin`);
  await writeFile(file, Buffer.from(r.counterexample, 'hex'));
  return file;
}
