/**
 * Running a program to completion: arguments as an array (no shell between),
 * its output (stdout and stderr, interleaved) kept up to a bound for the
 * error message, a timeout after which its whole process group is killed,
 * and cancellation through an AbortSignal.
 */
import { spawn } from 'node:child_process';

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

export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const keep = opts.keepBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    let out = Buffer.alloc(0);
    let timedOut = false;
    let done = false;
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.replaceEnv ? { ...opts.env } : { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch { /* already gone */ }
    };
    const take = (b: Buffer): void => {
      out = out.length + b.length > keep ? Buffer.concat([out, b]).subarray(-keep) : Buffer.concat([out, b]);
      opts.onOutput?.(b.toString('utf8'));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs) : null;
    const onAbort = (): void => killGroup();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (r: Omit<RunResult, 'output' | 'timedOut'>): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // What the program started may still hold the pipes: the group goes with it.
      if (timedOut) killGroup();
      resolve({ ...r, timedOut, output: out.toString('utf8') });
    };
    child.on('error', (e) => finish({ code: null, signal: null, spawnError: e.message }));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
}
