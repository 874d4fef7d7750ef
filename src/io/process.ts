/**
 * Running a program the way a supervisor does: in a process group of its
 * own, with a deadline after which the whole group is killed (a hung check
 * and every child it started), its standard output and error kept together
 * in order up to a bound, and what happened reported as facts rather than
 * thrown.
 */
import { spawn } from 'node:child_process';

export interface RunProcessOptions {
  /** Working directory. */
  cwd?: string;
  /** The whole environment of the program (nothing is inherited that is not here). */
  env?: Record<string, string>;
  /** Kill the process group this long after the start (milliseconds); none when absent. */
  timeoutMs?: number;
  /** Bytes of output kept (stdout and stderr interleaved as they come); the rest is counted, not kept. Default 64 KiB. */
  maxOutput?: number;
  /** Standard input, written then closed (default: none, /dev/null). */
  input?: string;
  /** Which bytes of output are kept when there are more than `maxOutput`: the first (default) or the last (where an error message ends). */
  keep?: 'first' | 'last';
  /** Every chunk of output as it comes (progress lines). */
  onOutput?: (chunk: Buffer) => void;
  /** Aborting kills the process group. */
  signal?: AbortSignal;
}

export interface ProcessResult {
  /** The exit status; null when it was ended by a signal. */
  code: number | null;
  signal: string | null;
  /** Killed because the deadline passed. */
  timedOut: boolean;
  /** The first (or, with `keep: 'last'`, the last) `maxOutput` bytes of stdout and stderr, interleaved. */
  output: Buffer;
  /** Bytes produced beyond what was kept. */
  dropped: number;
  /** Wall-clock milliseconds from the start to the end of the process. */
  ms: number;
  /** Set when the program could not be started at all (ENOENT, EACCES); code and signal are then null. */
  spawnError: NodeJS.ErrnoException | null;
}

/** Send `signal` to every process of the group led by `pid` (ignored when none is left). */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Run `file` with `args` in a new process group. When it exits, whatever of
 * its group is still running is killed, so no check outlives its run; when
 * the deadline passes first, the group is killed with SIGKILL.
 */
export function runProcess(file: string, args: readonly string[], opts: RunProcessOptions = {}): Promise<ProcessResult> {
  const max = opts.maxOutput ?? 64 * 1024;
  const started = performance.now();
  return new Promise((resolve) => {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let dropped = 0;
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: string | null; ms: number } | null = null;
    const child = spawn(file, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? {},
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const take = (b: Buffer): void => {
      opts.onOutput?.(b);
      if (opts.keep === 'last') {
        kept.push(b);
        keptBytes += b.length;
        while (keptBytes - kept[0].length >= max) {
          keptBytes -= kept[0].length;
          dropped += kept.shift()!.length;
        }
        return;
      }
      const room = max - keptBytes;
      if (room >= b.length) {
        kept.push(b);
        keptBytes += b.length;
      } else {
        if (room > 0) kept.push(b.subarray(0, room));
        keptBytes += Math.max(room, 0);
        dropped += b.length - Math.max(room, 0);
      }
    };
    const onAbort = (): void => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (spawnError: NodeJS.ErrnoException | null): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      let output = Buffer.concat(kept);
      if (opts.keep === 'last' && output.length > max) {
        dropped += output.length - max;
        output = output.subarray(output.length - max);
      }
      resolve({
        code: exit?.code ?? null, signal: exit?.signal ?? null, timedOut, output, dropped,
        ms: exit?.ms ?? performance.now() - started, spawnError,
      });
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.on('error', (e: NodeJS.ErrnoException) => {
      // Only a failure to start ends the run here; one after the start is followed by 'close'.
      if (child.pid === undefined) finish(e);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal, ms: performance.now() - started };
      // Its children go with it: they would hold the pipes open and outlive the check.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    });
    child.on('close', () => finish(null));
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    if (opts.timeoutMs !== undefined && child.pid !== undefined) {
      const pid = child.pid;
      timer = setTimeout(() => {
        if (exit) return;
        timedOut = true;
        killGroup(pid, 'SIGKILL');
      }, opts.timeoutMs);
    }
  });
}

/** This process's environment, for a program run on its behalf (PATH and the locale, mostly). */
export function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Remove the directory tree at `p` after this process has moved on: `p` is
 * renamed to `discarded` first (so nothing reads it under its old name), then
 * `rm -rf` runs detached, outliving the caller. When the rename fails the
 * tree is removed here and now. A tree a crash leaves under `discarded`'s
 * name is for the caller to remove later.
 */
export async function discardTree(p: string, discarded: string): Promise<void> {
  const { rename, rm } = await import('node:fs/promises');
  try {
    await rename(p, discarded);
  } catch {
    await rm(p, { recursive: true, force: true });
    return;
  }
  try {
    const child = spawn('rm', ['-rf', '--', discarded], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    await rm(discarded, { recursive: true, force: true });
  }
}
