/**
 * Fault injection through Debian's strace: trace an operation once to find
 * every call that changes the filesystem (its fault points), then run it
 * again with one of those calls made to fail (ENOSPC, EIO) or to kill the
 * process (SIGKILL) as it enters.
 *
 * strace counts `when=N` per thread and per system call (every thread, and
 * every child process, starts at 1), so a fault point is a system call and
 * an index N: the Nth such call of a thread. The tracee runs with a libuv
 * thread pool of one thread (UV_THREADPOOL_SIZE=1) so that the asynchronous
 * file calls of a run come in the same order on the same thread every time;
 * worker threads keep their own order.
 *
 * Runs with an error fault trace through a seccomp filter (only the faulted
 * call stops the tracee); SIGKILL faults cannot (strace 6.1 delivers an
 * injected signal only when it stops at every call), so they run slower.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The calls that write, sync, name or remove files, with their *at and vectored variants. */
export const FAULT_SYSCALLS = [
  'write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'ftruncate', 'fallocate', 'copy_file_range',
  'fsync', 'fdatasync', 'syncfs', 'sync_file_range',
  'open', 'openat', 'creat',
  'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat',
  'unlink', 'unlinkat', 'rmdir', 'mkdir', 'mkdirat',
  'setxattr', 'lsetxattr', 'fsetxattr',
] as const;
export type FaultSyscall = (typeof FAULT_SYSCALLS)[number];

/** Calls on a file descriptor: a fault point only when the descriptor is a file or directory (not a pipe, eventfd or /dev node). */
const ON_FD = new Set<string>(['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'ftruncate', 'fallocate', 'copy_file_range',
  'fsync', 'fdatasync', 'syncfs', 'sync_file_range', 'fsetxattr']);
/** Opens: a fault point only when they may create the file. */
const OPENS = new Set<string>(['open', 'openat', 'creat']);

export type FaultKind = 'ENOSPC' | 'EIO' | 'KILL';
export const FAULT_KINDS: FaultKind[] = ['ENOSPC', 'EIO', 'KILL'];

/** One place to fail: the Nth call of `syscall` on a thread. */
export interface FaultPoint {
  syscall: FaultSyscall;
  n: number;
}

export interface Fault extends FaultPoint {
  kind: FaultKind;
}

export function faultName(f: Fault): string {
  return `${f.kind} at ${f.syscall} #${f.n}`;
}

interface TracedCall {
  tid: number;
  syscall: string;
  args: string;
}

/** Entry lines of a `strace -f -y` log (a call resumed later is counted where it started). */
function tracedCalls(log: string): TracedCall[] {
  const out: TracedCall[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (m) out.push({ tid: Number(m[1]), syscall: m[2], args: m[3] });
  }
  return out;
}

/** Whether a traced call changes the filesystem (what a fault there tests). */
export function isFaultPoint(c: { syscall: string; args: string }): boolean {
  if (ON_FD.has(c.syscall)) {
    const fd = /^\d+<([^>]*)>/.exec(c.args);
    return fd !== null && fd[1].startsWith('/') && !fd[1].startsWith('/dev/') && !fd[1].startsWith('/proc/');
  }
  if (OPENS.has(c.syscall)) return c.syscall === 'creat' || /\bO_CREAT\b|\bO_TMPFILE\b/.test(c.args);
  return (FAULT_SYSCALLS as readonly string[]).includes(c.syscall);
}

/**
 * The fault points of a trace, in the order the run first reaches them:
 * (syscall, N) for every N at which some thread's Nth call of that syscall
 * changed the filesystem.
 */
export function faultPoints(log: string): FaultPoint[] {
  const seen = new Set<string>();
  const out: FaultPoint[] = [];
  const count = new Map<string, number>();
  for (const c of tracedCalls(log)) {
    const key = `${c.tid} ${c.syscall}`;
    const n = (count.get(key) ?? 0) + 1;
    count.set(key, n);
    if (!isFaultPoint(c)) continue;
    const id = `${c.syscall}#${n}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ syscall: c.syscall as FaultSyscall, n });
  }
  return out;
}

export interface TracedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The watchdog ended it (see `watchdogMs`). */
  hung: boolean;
}

/**
 * Run `argv` under strace, its log in `logFile`: with a fault, only that
 * call is traced and the fault injected at its Nth call on each thread;
 * without, every call of FAULT_SYSCALLS is traced (to count fault points).
 * A run that has not ended after `watchdogMs` is killed with its process
 * group and reported as hung: a hang is a failure, and the suite must end.
 */
export function traced(argv: string[], logFile: string, fault: Fault | null, opts: { env?: NodeJS.ProcessEnv; watchdogMs: number }): Promise<TracedRun> {
  const trace = fault ? fault.syscall : FAULT_SYSCALLS.join(',');
  const inject = fault ? ['-e', `inject=${fault.syscall}:${fault.kind === 'KILL' ? 'signal=KILL' : `error=${fault.kind}`}:when=${fault.n}`] : [];
  const filter = fault?.kind === 'KILL' ? [] : ['--seccomp-bpf'];
  const args = ['-f', ...filter, '-q', '-y', '-s', '48', '-o', logFile, '-e', `trace=${trace}`, ...inject, '--', ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn('strace', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: '1', ...opts.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.watchdogMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), hung });
    });
  });
}

/** What a fault run's log says about the injection: the first injected call (null: none reached). */
export async function injectedCall(logFile: string, fault: Fault): Promise<{ line: string; onFaultPoint: boolean } | null> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const calls = log.split('\n');
  if (fault.kind === 'KILL') {
    // The signal goes in as a thread enters its Nth call: that call never returns.
    if (!calls.some((l) => /\+\+\+ killed by SIGKILL/.test(l))) return null;
    const byTid = new Map<number, TracedCall[]>();
    for (const c of tracedCalls(log)) if (c.syscall === fault.syscall) byTid.set(c.tid, [...(byTid.get(c.tid) ?? []), c]);
    const nth = [...byTid.values()].map((cs) => cs[fault.n - 1]).find((c) => c !== undefined);
    return nth ? { line: `${nth.syscall}(${nth.args}`, onFaultPoint: isFaultPoint(nth) } : null;
  }
  // The injected call's entry line: itself, or the unfinished line its thread began it with.
  const begun = new Map<string, string>();
  for (const l of calls) {
    const tid = l.split(/\s+/)[0];
    if (/^\d+\s+[a-z0-9_]+\(/.test(l)) begun.set(tid, l);
    if (!l.includes('(INJECTED)')) continue;
    const entry = /^\d+\s+<\.\.\. /.test(l) ? begun.get(tid) ?? l : l;
    const c = tracedCalls(entry)[0];
    return { line: entry.replace(/^\d+\s+/, '').replace(/\s*<unfinished \.\.\.>$/, ''), onFaultPoint: c ? isFaultPoint(c) : false };
  }
  return null;
}
