/**
 * One fuzz run of one target, in a worker thread so that the runner can stop
 * an input that never finishes and cap the heap. Before each input the worker
 * copies it into shared memory and bumps a counter; the runner watches both.
 * Imported by anything else (the test runner loads every file), it does nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { checkAsync, checkSync, FuzzFailure, type Outcome } from './harness.js';
import { inputs, makeCorpus } from './mutate.js';
import { targetByName } from './targets.js';

export interface WorkerJob {
  fuzzJob: true;
  target: string;
  runs: number;
  seed: number;
  /** fast-check's counterexample path, to replay one failure. */
  path?: string;
  /** Int32 [state, executions, input length], then the input bytes. */
  shared: SharedArrayBuffer;
  /** Report progress this often (ms); 0 for never. */
  progressMs: number;
}

export interface WorkerResult {
  target: string;
  seed: number;
  runs: number;
  ms: number;
  failed: boolean;
  error?: string;
  kind?: string;
  counterexample?: string;
  path?: string;
  slowestMs: number;
  slowestLength: number;
  peakMemory: number;
  /** Outcomes by result ('ok' or the error code). */
  results: Record<string, number>;
}

export const SHARED_HEADER = 12;

function main(job: WorkerJob): Promise<void> | void {
  const target = targetByName(job.target);
  const state = new Int32Array(job.shared, 0, 3);
  const bytes = new Uint8Array(job.shared, SHARED_HEADER);
  const results: Record<string, number> = {};
  let slowestMs = 0;
  let slowestLength = 0;
  let peakMemory = 0;
  let lastProgress = performance.now();
  let executed = 0;
  const enter = (input: Uint8Array): void => {
    const n = Math.min(input.length, bytes.length);
    bytes.set(input.subarray(0, n));
    Atomics.store(state, 2, input.length);
    Atomics.add(state, 1, 1);
    Atomics.store(state, 0, 1);
  };
  const leave = (o: Outcome, input: Uint8Array): void => {
    Atomics.store(state, 0, 0);
    results[o.result] = (results[o.result] ?? 0) + 1;
    if (o.ms > slowestMs) {
      slowestMs = o.ms;
      slowestLength = input.length;
    }
    if (o.memory > peakMemory) peakMemory = o.memory;
    executed++;
    if (job.progressMs && (executed & 1023) === 0 && performance.now() - lastProgress > job.progressMs) {
      lastProgress = performance.now();
      parentPort?.postMessage({ progress: executed });
    }
  };
  // A corpus that grows with the run: 256 valid encodings in CI, 4,096 in a long run.
  const corpus = makeCorpus(target.valid, Math.min(4096, Math.max(256, Math.floor(job.runs / 250))), job.seed);
  const arb = inputs(target.valid, { dictionary: target.dictionary, maxLength: target.maxLength, corpus });
  const params: fc.Parameters<[Uint8Array]> = { numRuns: job.runs, seed: job.seed, ...(job.path ? { path: job.path } : {}) };
  const t0 = performance.now();
  const finish = (d: fc.RunDetails<[Uint8Array]>): void => {
    const err = d.errorInstance;
    const result: WorkerResult = {
      target: target.name, seed: d.seed, runs: d.numRuns, ms: performance.now() - t0, failed: d.failed,
      slowestMs, slowestLength, peakMemory, results,
    };
    if (d.failed) {
      result.error = err instanceof Error ? `${err.message}` : String(err);
      result.kind = err instanceof FuzzFailure ? err.kind : 'runner';
      result.counterexample = d.counterexample ? Buffer.from(d.counterexample[0]).toString('hex') : undefined;
      result.path = d.counterexamplePath ?? undefined;
    }
    parentPort?.postMessage({ result });
  };
  if (target.async) {
    return fc.check(fc.asyncProperty(arb, async (input) => {
      enter(input);
      leave(await checkAsync(target, input), input);
    }), params).then(finish);
  }
  finish(fc.check(fc.property(arb, (input) => {
    enter(input);
    leave(checkSync(target, input), input);
  }), params));
}

const job = workerData as WorkerJob | undefined;
if (parentPort && job?.fuzzJob) await main(job);
