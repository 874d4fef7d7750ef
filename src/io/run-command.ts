/**
 * Running a program to completion for compose: arguments as an array (no
 * shell between), this process's environment with additions, the last
 * bytes of its output kept for the error message, progress as it comes, a
 * timeout and cancellation that kill its whole process group. A thin form
 * of runProcess, which does the running.
 */
import { inheritedEnv, runProcess } from './process.js';

export interface RunOptions {
  cwd?: string;
  /** Added to (or, with `replaceEnv`, instead of) this process's environment. */
  env?: Record<string, string>;
  replaceEnv?: boolean;
  /** Kill the program (and what it started) after this many milliseconds. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Every chunk of output as it comes (progress). */
  onOutput?: (chunk: string) => void;
  /** Keep at most this many bytes of output, the last ones (default 64 KiB). */
  keepBytes?: number;
}

export interface RunResult {
  /** The exit status, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The last `keepBytes` of its output. */
  output: string;
  /** The program could not be started (not found, not executable): the reason. */
  spawnError?: string;
}

export async function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runProcess(cmd, args, {
    cwd: opts.cwd,
    env: opts.replaceEnv ? { ...opts.env } : { ...inheritedEnv(), ...opts.env },
    timeoutMs: opts.timeoutMs,
    maxOutput: opts.keepBytes ?? 64 * 1024,
    keep: 'last',
    onOutput: opts.onOutput ? (b) => opts.onOutput!(b.toString('utf8')) : undefined,
    signal: opts.signal,
  });
  return {
    code: r.code, signal: r.signal, timedOut: r.timedOut, output: r.output.toString('utf8'),
    ...(r.spawnError ? { spawnError: r.spawnError.message } : {}),
  };
}
