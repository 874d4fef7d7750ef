/**
 * The torture harness: for one operation of the table (operations.ts),
 * count its fault points, choose the faults to try (all of them, or an even
 * seeded sample), and for each fault run the operation on a fresh copy of
 * its fixture with the fault injected, then check the invariants, run it
 * again without a fault and check them again. It returns the operation's
 * report; failures are collected, not thrown, so that one run finds them all.
 */
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, removeTree, run } from '../helpers/env.js';
import { checkBootInvariants, ostreeStatus } from '../helpers/host.js';
import { FAULT_KINDS, faultName, faultPoints, injectedCall, traced, type Fault, type FaultPoint } from './strace.js';

/** What a copy of a fixture is, for one run: its root, and where its repositories and sysroot are. */
export interface Fixture {
  /** The directory copied afresh for every fault (everything the operation writes is under it). */
  template: string;
  /** The command, for a copy at `root`: the program first. */
  command(root: string): string[];
  /** The repositories the operation writes, inside the copy. */
  repos(root: string): string[];
  /** The sysroot inside the copy, for sysroot operations (its boot configuration is checked too). */
  sysroot?(root: string): string;
  /**
   * A few words saying what the operation has done (a ref's commit, the
   * default deployment): after a fault it must read as before the
   * operation or as after it ('atomic'), or anything ('any': a prune
   * removes objects one by one); after the rerun as after the operation
   * ('final') or either ('toggle': a rollback run again rolls back again).
   */
  state(root: string): Promise<string>;
  afterFault: 'atomic' | 'any';
  afterRerun: 'final' | 'toggle';
}

/** One row of the table: a writer and how to make what it starts from. */
export interface TortureOperation {
  name: string;
  /** Build the fixture once under `dir` (from the suite's shared world). */
  setup(dir: string): Promise<Fixture>;
}

export interface FaultOutcome {
  fault: string;
  /** The call the fault hit (null: the run never reached the Nth call). */
  hit: string | null;
  exit: string;
  failures: string[];
}

export interface OperationReport {
  operation: string;
  /** Fault points the uninterrupted run reaches (system call and index), by system call. */
  faultPoints: number;
  bySyscall: Record<string, number>;
  /** Faults in the full space: points × kinds (ENOSPC, EIO, KILL). */
  faultSpace: number;
  tried: number;
  /** Faults that reached their call (the rest ran as if no fault was injected). */
  fired: number;
  /** Fired faults whose call was itself a fault point (not an earlier call of the same index). */
  firedOnFaultPoint: number;
  /** Tried faults after which every invariant held, and the rerun completed. */
  survived: number;
  invariantFailures: number;
  /** Faulted runs that ended with exit status 70 (an internal error) rather than a coded one. */
  internalErrors: number;
  /** Temporary files a faulted run left among the refs (names starting with a dot, which no tool reads as refs), after the rerun. */
  strayRefFiles: string[];
  /** Faulted runs that failed without leaving tmp/ as it was before (removed by the rerun). */
  leftInTmpByFailedRun: number;
  /** What the internal errors said (their first line, each once), for the bug reports they are. */
  internalErrorMessages: Array<{ fault: string; message: string }>;
  byKind: Record<string, { tried: number; fired: number; survived: number }>;
  seconds: number;
  failures: FaultOutcome[];
}

/** A small seeded generator (mulberry32): the same seed, the same sample. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The faults to try: every point with every kind (limit null), or `limit`
 * of them spread evenly over the run (points in the order the run reaches
 * them, kinds in turn), from a seeded offset.
 */
export function chooseFaults(points: FaultPoint[], limit: number | null, random: () => number): Fault[] {
  const all: Fault[] = points.flatMap((p) => FAULT_KINDS.map((kind) => ({ ...p, kind })));
  if (limit === null || limit >= all.length) return all;
  const step = all.length / limit;
  const offset = random() * step;
  return Array.from({ length: limit }, (_, i) => all[Math.min(all.length - 1, Math.floor(offset + i * step))]);
}

/**
 * Every ref of a repository names a commit that is there and complete (no
 * commitpartial mark). Names starting with a dot are no refs to either tool
 * (the temporary file of a ref write a crash interrupted): counted in `strays`.
 */
async function checkRefs(repo: string, strays: string[]): Promise<void> {
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      if (n.startsWith('.')) {
        strays.push(`${rel}${n}`);
        continue;
      }
      const p = path.join(dir, n);
      const st = await lstat(p);
      if (st.isDirectory()) {
        await walk(p, `${rel}${n}/`);
        continue;
      }
      const text = await readFile(p, 'utf8');
      const m = /^([0-9a-f]{64})\n?$/.exec(text);
      if (!m) throw new Error(`ref ${rel}${n} of ${repo} holds ${JSON.stringify(text.slice(0, 80))}, not a commit checksum`);
      await checkCommitComplete(repo, m[1], `ref ${rel}${n}`);
    }
  };
  for (const kind of ['heads', 'remotes', 'mirrors']) await walk(path.join(repo, 'refs', kind), `${kind}/`);
}

async function checkCommitComplete(repo: string, csum: string, what: string): Promise<void> {
  const obj = path.join(repo, 'objects', csum.slice(0, 2), `${csum.slice(2)}.commit`);
  if (!(await lstat(obj).then((s) => s.isFile() && s.size > 0, () => false))) throw new Error(`${what} names commit ${csum}, which is not in ${repo}`);
  if (await lstat(path.join(repo, 'state', `${csum}.commitpartial`)).then(() => true, () => false)) throw new Error(`${what} names commit ${csum}, which is still partial`);
}

/** Names in a repository's tmp/ (sorted). */
async function tmpEntries(repo: string): Promise<string[]> {
  return (await readdir(path.join(repo, 'tmp')).catch(() => [] as string[])).sort();
}

async function check(what: string, failures: string[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    failures.push(`${what}: ${(e as Error).message.trim().slice(0, 1500)}`);
  }
}

/** The invariants every repository and sysroot keeps, whatever happened to it. */
async function checkInvariants(fx: Fixture, root: string, failures: string[], when: string, withOurFsck: boolean, strays: string[] = []): Promise<void> {
  for (const repo of fx.repos(root)) {
    await check(`${when}: ostree fsck ${path.basename(repo)}`, failures, async () => { await ok(ostree('fsck', `--repo=${repo}`), 'ostree fsck'); });
    if (withOurFsck) await check(`${when}: ostree-ts fsck ${path.basename(repo)}`, failures, async () => { await ok(ots('fsck', `--repo=${repo}`), 'ostree-ts fsck'); });
    await check(`${when}: refs of ${path.basename(repo)}`, failures, () => checkRefs(repo, strays));
  }
  const s = fx.sysroot?.(root);
  if (s) {
    await check(`${when}: the sysroot`, failures, async () => {
      const boot = await checkBootInvariants(s);
      const listed = await ostreeStatus(s);
      const ids = boot.map((d) => d.id);
      if (JSON.stringify(listed) !== JSON.stringify(ids)) throw new Error(`ostree admin status lists ${listed.join(', ')}; the boot entries name ${ids.join(', ')}`);
      for (const d of boot) await checkCommitComplete(path.join(s, 'ostree', 'repo'), d.csum, `deployment ${d.id}`);
    });
  }
}

export interface RunOptions {
  /** Where the copies go (one at a time per lane, removed after each fault). */
  workDir: string;
  /** null: every fault; else how many to sample. */
  limit: number | null;
  seed: number;
  /** Faults run side by side. */
  jobs: number;
  watchdogMs: number;
  log: (line: string) => void;
}

/** Count the fault points of an operation, try the chosen faults, and report. */
export async function tortureOperation(op: TortureOperation, fx: Fixture, o: RunOptions): Promise<OperationReport> {
  const t0 = Date.now();
  await mkdir(o.workDir, { recursive: true });
  const copy = async (name: string): Promise<string> => {
    const root = path.join(o.workDir, name);
    await ok(run('cp', ['-a', fx.template, root]), `copy the ${op.name} fixture`);
    return root;
  };
  const initial = await fx.state(fx.template);
  const tmpBefore = new Map<string, string[]>();
  for (const repo of fx.repos(fx.template)) tmpBefore.set(path.relative(fx.template, repo), await tmpEntries(repo));

  // The uninterrupted run, traced: its fault points, and the state it ends in.
  const base = await copy('baseline');
  const baseLog = path.join(o.workDir, 'baseline.strace');
  const b = await traced(fx.command(base), baseLog, null, { watchdogMs: o.watchdogMs });
  if (b.code !== 0) throw new Error(`${op.name}: the uninterrupted run failed (${b.code ?? b.signal}):\n${b.stderr}${b.stdout}`);
  const baseFailures: string[] = [];
  await checkInvariants(fx, base, baseFailures, 'uninterrupted run', true);
  if (baseFailures.length) throw new Error(`${op.name}: the uninterrupted run breaks the invariants:\n${baseFailures.join('\n')}`);
  // What an uninterrupted run leaves in tmp/ (a cache, say), and never a staging directory or a spooled object.
  const tmpAfter = new Map<string, string[]>();
  for (const repo of fx.repos(base)) {
    const rel = path.relative(base, repo);
    const left = await tmpEntries(repo);
    const strays = left.filter((n) => !(tmpBefore.get(rel) ?? []).includes(n) && /^(staging-|pull-)/.test(n));
    if (strays.length) throw new Error(`${op.name}: the uninterrupted run left ${strays.join(', ')} in ${rel}/tmp`);
    tmpAfter.set(rel, left);
  }
  const final = await fx.state(base);
  if (final === initial) throw new Error(`${op.name}: the uninterrupted run changed nothing (${final})`);
  const points = faultPoints(await readFile(baseLog, 'utf8'));
  await rm(baseLog, { force: true });
  await removeTree(base);
  const bySyscall: Record<string, number> = {};
  for (const p of points) bySyscall[p.syscall] = (bySyscall[p.syscall] ?? 0) + 1;
  const faults = chooseFaults(points, o.limit, rng(o.seed));
  o.log(`${op.name}: ${points.length} fault points (${Object.entries(bySyscall).map(([k, v]) => `${k} ${v}`).join(', ')}); trying ${faults.length} of ${points.length * FAULT_KINDS.length} faults`);

  const report: OperationReport = {
    operation: op.name, faultPoints: points.length, bySyscall, faultSpace: points.length * FAULT_KINDS.length,
    tried: 0, fired: 0, firedOnFaultPoint: 0, survived: 0, invariantFailures: 0, internalErrors: 0, internalErrorMessages: [], strayRefFiles: [], leftInTmpByFailedRun: 0,
    byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, { tried: 0, fired: 0, survived: 0 }])), seconds: 0, failures: [],
  };

  const one = async (fault: Fault, i: number): Promise<void> => {
    const root = await copy(`fault-${i}`);
    const logFile = `${root}.strace`;
    const failures: string[] = [];
    const r = await traced(fx.command(root), logFile, fault, { watchdogMs: o.watchdogMs });
    const hit = await injectedCall(logFile, fault);
    await rm(logFile, { force: true });
    const exit = r.hung ? 'hung' : r.signal ? r.signal : String(r.code);
    if (r.hung) failures.push(`did not end within ${o.watchdogMs / 1000} s (killed)`);
    if (r.code === 70) {
      report.internalErrors++;
      const message = (r.stderr.split('\n').find((l) => l.startsWith('error:')) ?? r.stderr.trim().split('\n')[0] ?? '').replace(/\/\S*\/(tmp|objects)\/\S*/g, '…').slice(0, 300);
      if (!report.internalErrorMessages.some((m) => m.message === message)) report.internalErrorMessages.push({ fault: faultName(fault), message });
    }
    // A run that failed cleanly has put tmp/ back as it was (or the rerun must).
    if (r.code !== 0 && fault.kind !== 'KILL') {
      for (const repo of fx.repos(root)) {
        if (JSON.stringify(await tmpEntries(repo)) !== JSON.stringify(tmpBefore.get(path.relative(root, repo)))) {
          report.leftInTmpByFailedRun++;
          break;
        }
      }
    }
    await checkInvariants(fx, root, failures, 'after the fault', true);
    const after = await fx.state(root).catch((e: Error) => `unreadable: ${e.message}`);
    if (fx.afterFault === 'atomic' && after !== initial && after !== final) failures.push(`after the fault: the state is ${after}, neither ${initial} (before) nor ${final} (after)`);
    if (r.code === 0 && fx.afterFault === 'atomic' && after !== final) failures.push(`the faulted run exited 0 but left ${after}, not ${final}`);

    const again = await run(fx.command(root)[0], fx.command(root).slice(1));
    if (again.code !== 0) failures.push(`the rerun failed (${again.code}):\n${again.stderr.slice(0, 1500)}`);
    else {
      const strays: string[] = [];
      await checkInvariants(fx, root, failures, 'after the rerun', false, strays);
      for (const n of strays) report.strayRefFiles.push(`${faultName(fault)}: refs/${n}`);
      const end = await fx.state(root).catch((e: Error) => `unreadable: ${e.message}`);
      if (fx.afterRerun === 'final' ? end !== final : end !== final && end !== initial) failures.push(`after the rerun: the state is ${end}, not ${final}`);
      for (const repo of fx.repos(root)) {
        const rel = path.relative(root, repo);
        const left = await tmpEntries(repo);
        const want = tmpAfter.get(rel) ?? [];
        if (JSON.stringify(left) !== JSON.stringify(want)) failures.push(`after the rerun: ${rel}/tmp holds ${left.join(', ') || 'nothing'}; an uninterrupted run leaves ${want.join(', ') || 'nothing'}`);
      }
    }
    await removeTree(root);

    report.tried++;
    report.byKind[fault.kind].tried++;
    if (hit) {
      report.fired++;
      report.byKind[fault.kind].fired++;
      if (hit.onFaultPoint) report.firedOnFaultPoint++;
    }
    if (failures.length) {
      report.invariantFailures++;
      report.failures.push({ fault: faultName(fault), hit: hit?.line ?? null, exit, failures });
      o.log(`${op.name}: FAILED ${faultName(fault)} (hit ${hit?.line ?? 'nothing'}, exit ${exit}):\n  ${failures.join('\n  ')}\n  stderr: ${r.stderr.trim().slice(0, 800)}`);
    } else {
      report.survived++;
      report.byKind[fault.kind].survived++;
    }
  };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < faults.length) {
      const i = next++;
      await one(faults[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, lane));
  report.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return report;
}
