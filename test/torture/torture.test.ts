/**
 * Systematic fault injection (`npm run torture`): every call by which an
 * operation writes, syncs, names or removes a file is, in turn, made to
 * fail with ENOSPC or EIO, or to kill the process as it enters the call
 * (Debian's strace: `-e inject=SYSCALL:error=E:when=N`,
 * `-e inject=SYSCALL:signal=KILL:when=N`; see strace.ts for what a fault
 * point is). The operations are the rows of operations.ts: commit (archive,
 * bare), pull over HTTP (objects, static delta), pull-local, prune,
 * `admin deploy`, `atomic upgrade`, `atomic rollback`, `atomic kargs`.
 *
 * After every fault, on a fresh copy of the operation's fixture: both
 * `ostree-ts fsck` and the real `ostree fsck` pass; every ref names a
 * commit that is there and complete; in a sysroot, the boot entries name
 * exactly one default deployment whose entry, kernel, initramfs and
 * directory exist, and the real `ostree admin status` lists the same
 * deployments; what the operation did reads as before it or after it
 * (prune: anything consistent). Then the operation runs again without a
 * fault: it completes, the invariants hold again, its state is the one the
 * uninterrupted run reached, and the repositories' tmp/ holds what an
 * uninterrupted run leaves there, which is never a staging directory or a
 * spooled object (the fixtures set `core.tmp-expiry-secs=0`, so the rerun's
 * transaction removes what a killed one left, as libostree's next
 * transaction does once they expire).
 *
 * TORTURE=ci (what `npm run torture` runs by default, and CI): an even,
 * seeded sample of TORTURE_FAULTS faults (default 420) spread over the
 * operations. TORTURE=full: every fault point of every operation with each
 * kind. TORTURE_SEED fixes the sample (the seed is logged), TORTURE_JOBS
 * the faults run side by side (default 2), TORTURE_ONLY a comma-separated
 * list of operation names (substrings). A report per operation (fault
 * points, tried, fired, survived, invariant failures, seconds) is printed
 * at the end and written to TORTURE_REPORT (default dist/torture-report.json).
 *
 * A new writer joins with one row in operations.ts (see its header).
 *
 * Outside `npm run torture` (TORTURE unset, as under `npm test`) the suite
 * is skipped: it has its own CI step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT, requireOstree, requireRoot, requireTool, tempDir } from '../helpers/env.js';
import { chooseFaults, rng, tortureOperation, type OperationReport } from './harness.js';
import { faultPoints } from './strace.js';
import { makeWorld, operations } from './operations.js';

const mode = process.env.TORTURE;

test('torture: faults injected at every write, sync, rename, link, unlink, symlink and mkdir', { skip: mode ? false : 'run with npm run torture', timeout: mode === 'full' ? Infinity : 40 * 60_000 }, async (t) => {
  if (mode !== 'ci' && mode !== 'full') throw new Error(`TORTURE=${mode}: say ci (a sample) or full (every fault point)`);
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'strace', 'strace'))) return;
  if (!requireRoot(t, 'bare repositories, sysroots with immutable deployments')) return;
  const seed = process.env.TORTURE_SEED ? Number(process.env.TORTURE_SEED) : Math.floor(Math.random() * 2 ** 31);
  const jobs = Number(process.env.TORTURE_JOBS ?? 2);
  const only = (process.env.TORTURE_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  t.diagnostic(`TORTURE=${mode} TORTURE_SEED=${seed} TORTURE_JOBS=${jobs}${only.length ? ` TORTURE_ONLY=${only.join(',')}` : ''}`);

  const dir = await tempDir(t, 'ots-torture-');
  await mkdir(path.join(dir, 'world'));
  const world = await makeWorld(t, path.join(dir, 'world'));
  const rows = operations(world).filter((op) => !only.length || only.some((s) => op.name.includes(s)));
  assert.ok(rows.length > 0, `no operation matches TORTURE_ONLY=${only.join(',')}`);
  const total = Number(process.env.TORTURE_FAULTS ?? 420);

  const reports: OperationReport[] = [];
  const file = process.env.TORTURE_REPORT ?? path.join(ROOT, 'dist', 'torture-report.json');
  const save = async (): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify({ mode, seed, jobs, operations: reports }, null, 2)}\n`);
  };
  for (const [i, op] of rows.entries()) {
    await t.test(op.name, async () => {
      const opDir = path.join(dir, `op-${i}`);
      await mkdir(path.join(opDir, 'fixture'), { recursive: true });
      const fixture = await op.setup(path.join(opDir, 'fixture'));
      // The sample's share of this operation, with what earlier ones could not use (they had fewer faults).
      const tried = reports.reduce((n, r) => n + r.tried, 0);
      const limit = mode === 'full' ? null : Math.ceil(Math.max(0, total - tried) / (rows.length - i));
      const report = await tortureOperation(op, fixture, {
        workDir: path.join(opDir, 'runs'), limit, seed: seed + i, jobs, watchdogMs: 120_000,
        log: (line) => t.diagnostic(line),
      });
      reports.push(report);
      await save();
      t.diagnostic(`${op.name}: ${report.tried} faults tried (${report.fired} fired), ${report.survived} survived, ${report.invariantFailures} invariant failures, ${report.seconds} s`);
      assert.equal(report.invariantFailures, 0, `${op.name}: ${report.invariantFailures} faults broke an invariant:\n${report.failures.map((f) => `${f.fault} (hit ${f.hit}, exit ${f.exit}): ${f.failures.join('; ')}`).join('\n')}`);
    });
  }

  const width = Math.max(...reports.map((r) => r.operation.length));
  const lines = [`${'operation'.padEnd(width)}  points  tried  fired  survived  failures  internal  seconds`];
  for (const r of reports) {
    lines.push(`${r.operation.padEnd(width)}  ${String(r.faultPoints).padStart(6)}  ${String(r.tried).padStart(5)}  ${String(r.fired).padStart(5)}  ${String(r.survived).padStart(8)}  ${String(r.invariantFailures).padStart(8)}  ${String(r.internalErrors).padStart(8)}  ${String(r.seconds).padStart(7)}`);
  }
  const sum = (k: 'tried' | 'fired' | 'survived' | 'invariantFailures'): number => reports.reduce((n, r) => n + r[k], 0);
  lines.push(`${'all'.padEnd(width)}  ${''.padStart(6)}  ${String(sum('tried')).padStart(5)}  ${String(sum('fired')).padStart(5)}  ${String(sum('survived')).padStart(8)}  ${String(sum('invariantFailures')).padStart(8)}`);
  for (const l of lines) t.diagnostic(l);
  for (const r of reports) for (const n of r.strayRefFiles) t.diagnostic(`${r.operation}: left among the refs after ${n}`);
  for (const r of reports) for (const m of r.internalErrorMessages) t.diagnostic(`${r.operation}: internal error (exit 70) after ${m.fault}: ${m.message}`);
  t.diagnostic(`report: ${file}`);
  if (mode === 'ci' && !only.length) assert.ok(sum('tried') >= 400, `${sum('tried')} faults tried; the CI run tries at least 400`);
});

test('torture: a fault point is the Nth call of a thread that changes a file; the sample spreads over the run', () => {
  const log = [
    '101 openat(AT_FDCWD</r>, "/r/lib/a.js", O_RDONLY|O_CLOEXEC) = 20</r/lib/a.js>',
    '101 openat(AT_FDCWD</r>, "/r/tmp/x", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0644) = 21</r/tmp/x>',
    '101 write(1<pipe:[77]>, "ok\\n", 3) = 3',
    '102 write(21</r/tmp/x>, "data", 4 <unfinished ...>',
    '101 write(22<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8',
    '102 <... write resumed>) = 4',
    '102 fsync(21</r/tmp/x>) = 0',
    '102 renameat2(AT_FDCWD</r>, "/r/tmp/x", AT_FDCWD</r>, "/r/objects/x", 0) = 0',
    '103 openat(AT_FDCWD</r>, "/r/tmp/y", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 5</r/tmp/y>',
    '103 write(5</dev/null>, "", 0) = 0',
    '101 --- SIGCHLD {si_signo=SIGCHLD} ---',
  ].join('\n');
  // openat #2 of thread 101 and openat #1 of thread 103 create files; writes to pipes, eventfds and /dev do not count.
  assert.deepEqual(faultPoints(log), [
    { syscall: 'openat', n: 2 }, { syscall: 'write', n: 1 }, { syscall: 'fsync', n: 1 }, { syscall: 'renameat2', n: 1 }, { syscall: 'openat', n: 1 },
  ]);
  const points = Array.from({ length: 40 }, (_, i) => ({ syscall: 'write' as const, n: i + 1 }));
  assert.equal(chooseFaults(points, null, rng(1)).length, 120);
  const sample = chooseFaults(points, 30, rng(7));
  assert.equal(sample.length, 30);
  assert.deepEqual(sample, chooseFaults(points, 30, rng(7)), 'the same seed gives the same sample');
  assert.ok(sample[0].n <= 2 && sample[29].n >= 39, `the sample covers the run from start to end: ${sample.map((f) => f.n).join(',')}`);
  assert.deepEqual(new Set(sample.map((f) => f.kind)), new Set(['ENOSPC', 'EIO', 'KILL']));
});
