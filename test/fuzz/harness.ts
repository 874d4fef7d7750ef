/**
 * The fuzzing property, shared by the fuzz runs and the regression replay:
 * a parser given any bytes either returns a value or throws a coded
 * `OstreeTsError` (never an `InternalError`, never a RangeError, TypeError or
 * any other exception), naming the object or file it was told it reads; it
 * finishes within a second and allocates nothing out of proportion to its
 * input; and where it succeeds, the target's own claim (such as re-encoding
 * giving back the same bytes) holds.
 */
import v8 from 'node:v8';
import type fc from 'fast-check';
import { InternalError, OstreeTsError } from '../../src/errors/index.js';

export interface FuzzTarget {
  /** Short name: the regression folder and FUZZ_TARGETS use it. */
  name: string;
  /** What is parsed, for reports. */
  parses: string;
  /** Valid encodings, made by the project's encoders. */
  valid: fc.Arbitrary<Uint8Array>;
  /** Byte strings worth inserting (the tokens of a text format). */
  dictionary?: readonly Uint8Array[];
  /** Longest input tried (default 64 KiB). */
  maxLength?: number;
  /** The name run() gives the parser for what it reads: every coded error must mention it. */
  label?: string;
  /** Feed the bytes to the parser(s); returns what was decoded (a promise when `async`). */
  run(input: Uint8Array): unknown;
  /** run() returns a promise (a parser of streams). */
  async?: boolean;
  /** A claim that must hold where run() succeeded (throw to fail it), e.g. re-encoding gives the input back. */
  check?(input: Uint8Array, output: unknown): void;
}

/** An input is a hang when it takes longer than this. */
export const TIME_LIMIT_MS = 1000;

/** Memory a parser may keep allocated after one input: a fixed allowance plus a multiple of the input's size. */
export function memoryLimit(inputLength: number): number {
  return 32 * 1024 * 1024 + 512 * inputLength;
}

/** A broken property, with what broke it. */
export class FuzzFailure extends Error {
  constructor(readonly kind: 'exception' | 'internal' | 'unnamed' | 'hang' | 'memory' | 'claim', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzFailure';
  }
}

export interface Outcome {
  /** 'ok' when the parser returned, else the coded error's code. */
  result: string;
  ms: number;
  /** Bytes of heap and external memory still held after the call. */
  memory: number;
}

function allocated(): number {
  const h = v8.getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return String(e);
}

function judge(target: FuzzTarget, input: Uint8Array, ms: number, memory: number): void {
  if (ms > TIME_LIMIT_MS) throw new FuzzFailure('hang', `${target.name}: one input took ${ms.toFixed(0)} ms (limit ${TIME_LIMIT_MS}).`);
  if (memory > memoryLimit(input.length)) {
    throw new FuzzFailure('memory', `${target.name}: one input of ${input.length} bytes left ${(memory / 2 ** 20).toFixed(1)} MiB allocated.`);
  }
}

function judgeError(target: FuzzTarget, e: unknown): string {
  if (e instanceof FuzzFailure) throw e;
  if (e instanceof InternalError) throw new FuzzFailure('internal', `${target.name}: an InternalError for bad input: ${describe(e)}`, { cause: e });
  if (!(e instanceof OstreeTsError)) throw new FuzzFailure('exception', `${target.name}: not a coded error: ${describe(e)}`, { cause: e });
  if (target.label && !e.message.includes(target.label)) {
    throw new FuzzFailure('unnamed', `${target.name}: the error (${e.code}) does not name ${JSON.stringify(target.label)}: ${e.message}`, { cause: e });
  }
  return e.code;
}

/**
 * An input slower than the limit is timed again, up to 3 more times, and
 * judged by its fastest run: a hang is an input that is slow every time, not
 * a process the machine did not schedule for a second (a loaded machine, a
 * GC pause).
 */
const RETIMES = 3;

function fastestSync(target: FuzzTarget, input: Uint8Array, ms: number): number {
  for (let i = 0; i < RETIMES && ms > TIME_LIMIT_MS; i++) {
    const t0 = performance.now();
    try {
      target.check?.(input, target.run(input));
    } catch {
      // Judged on the first run.
    }
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

async function fastestAsync(target: FuzzTarget, input: Uint8Array, ms: number): Promise<number> {
  for (let i = 0; i < RETIMES && ms > TIME_LIMIT_MS; i++) {
    const t0 = performance.now();
    try {
      target.check?.(input, await target.run(input));
    } catch {
      // Judged on the first run.
    }
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

/** Run one input through a target synchronously (for parsers whose run() returns a value). */
export function checkSync(target: FuzzTarget, input: Uint8Array): Outcome {
  const m0 = allocated();
  const t0 = performance.now();
  let result = 'ok';
  let output: unknown;
  try {
    output = target.run(input);
    if (output instanceof Promise) throw new FuzzFailure('claim', `${target.name}: run() returned a promise; use checkAsync.`);
    target.check?.(input, output);
  } catch (e) {
    result = judgeError(target, e);
  }
  const memory = allocated() - m0;
  output = undefined;
  const ms = fastestSync(target, input, performance.now() - t0);
  judge(target, input, ms, memory);
  return { result, ms, memory };
}

/** Run one input through a target, awaiting it (for parsers of streams). */
export async function checkAsync(target: FuzzTarget, input: Uint8Array): Promise<Outcome> {
  const m0 = allocated();
  const t0 = performance.now();
  let result = 'ok';
  try {
    const output = await target.run(input);
    target.check?.(input, output);
  } catch (e) {
    result = judgeError(target, e);
  }
  const memory = allocated() - m0;
  const ms = await fastestAsync(target, input, performance.now() - t0);
  judge(target, input, ms, memory);
  return { result, ms, memory };
}

/** Assertion helper for claims: the same bytes. */
export function sameBytes(what: string, expected: Uint8Array, actual: Uint8Array): void {
  if (!Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength).equals(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength))) {
    throw new FuzzFailure('claim', `${what}: re-encoding the decoded value gives different bytes (${Buffer.from(actual).toString('hex').slice(0, 200)} for ${Buffer.from(expected).toString('hex').slice(0, 200)}).`);
  }
}
