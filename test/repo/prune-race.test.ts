/**
 * Issue 14, defect 1: prune racing a writer must never corrupt the
 * repository. Each race starts `ostree-ts prune --refs-only` and a writer
 * (ostree-ts commit, pull over HTTP, pull-local, or the real `ostree commit`)
 * as separate processes, a random few milliseconds apart, while the objects
 * the writer can reuse are garbage (the previous branch was just deleted), so
 * that without the repository lock prune deletes what the writer relies on.
 * After every race: both exit 0, `ostree fsck` and ostree-ts's fsck are clean,
 * and every ref names a complete commit.
 *
 * Two commits on one branch race too (ostree-ts against ostree-ts, and
 * against the real ostree): both succeed, the ref names one of the two, and
 * that commit's parent is the branch's head before the race or the other one.
 *
 * OSTREE_TS_RACES sets the number of races of each kind (default 10, about 80 s; 50 of
 * each is the acceptance run); OSTREE_TS_RACE_SEED replays a run.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { putFile } from '../helpers/trees.js';
import { Repo, firstMissing, fsck, listRefs } from '../../src/repo/index.js';

const RACES = Number(process.env.OSTREE_TS_RACES ?? 10);
const SEED = Number(process.env.OSTREE_TS_RACE_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Outcome { code: number; stdout: string; stderr: string; start: number; end: number }

function launch(cmd: string, args: string[], delayMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      const start = performance.now();
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err, start, end: performance.now() }));
    }, delayMs);
  });
}

/**
 * The tree of race `i`: 150 files, a tenth of them new each time, the rest
 * as in the race before (objects the writer finds already stored).
 */
async function writeTree(root: string, i: number): Promise<string> {
  const dir = path.join(root, `tree-${i}`);
  for (let f = 0; f < 150; f++) {
    // The last race up to i that renewed file f (every tenth race does).
    const last = i - (((i - (f % 10)) % 10) + 10) % 10;
    const generation = Math.max(0, last);
    await putFile(dir, `d${f % 12}/f${f}.txt`, `file ${f} generation ${generation}\n${'x'.repeat(f * 7)}\n`);
  }
  return dir;
}

/** The invariants after a race: both fscks clean, every ref a complete commit. */
async function checkRepo(repoPath: string, what: string): Promise<void> {
  const real = await ostree(`--repo=${repoPath}`, 'fsck');
  assert.equal(real.code, 0, `${what}: ostree fsck\n${real.stderr}${real.stdout}`);
  const repo = await Repo.open(repoPath);
  const report = await fsck(repo);
  assert.deepEqual(report.problems, [], `${what}: ostree-ts fsck`);
  for (const ref of await listRefs(repo)) {
    assert.equal(await repo.isCommitPartial(ref.checksum), false, `${what}: ref ${ref.refspec} names a partial commit`);
    assert.equal(await firstMissing(repo, ref.checksum), null, `${what}: ref ${ref.refspec} names an incomplete commit`);
  }
}

interface Kind {
  /** Set up; returns the target repository. */
  setup(dir: string): Promise<string>;
  /** Before race i: make what the writer brings; returns the writer's command. */
  writer(dir: string, target: string, i: number): Promise<[string, string[]]>;
  /** The ref the writer moves in race i. */
  ref(i: number): string;
}

async function runRaces(t: TestContext, name: string, kind: Kind): Promise<void> {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const rand = random(SEED ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7));
  const target = await kind.setup(dir);
  const began = performance.now();
  let overlapped = 0;
  for (let i = 1; i <= RACES; i++) {
    const [cmd, args] = await kind.writer(dir, target, i);
    // The previous branch goes: its objects are garbage, and the writer's to reuse.
    if (i > 1) await ok(ots(`--repo=${target}`, 'refs', '--delete', kind.ref(i - 1)), 'refs --delete');
    const lead = rand() * 300;
    const pruneFirst = rand() < 0.5;
    const [w, p] = await Promise.all([
      launch(cmd, args, pruneFirst ? lead : 0),
      launch(process.execPath, [CLI, `--repo=${target}`, 'prune', '--refs-only'], pruneFirst ? 0 : lead),
    ]);
    if (w.start < p.end && p.start < w.end) overlapped++;
    const what = `${name} race ${i} (seed ${SEED}, prune ${pruneFirst ? 'first' : 'second'} by ${lead.toFixed(0)} ms)`;
    assert.equal(w.code, 0, `${what}: the writer failed\n${w.stderr}`);
    assert.equal(p.code, 0, `${what}: prune failed\n${p.stderr}`);
    await checkRepo(target, what);
    const refs = await listRefs(await Repo.open(target));
    assert.ok(refs.some((r) => r.refspec === kind.ref(i)), `${what}: the writer's ref ${kind.ref(i)} is there`);
  }
  t.diagnostic(`${name}: ${RACES} races, seed ${SEED}, ${overlapped} with the two processes overlapping, ${((performance.now() - began) / 1000).toFixed(1)} s, 0 corrupt repositories`);
}

async function initTarget(dir: string): Promise<string> {
  const target = path.join(dir, 'target');
  await ok(ots('init', `--repo=${target}`, '--mode=archive'));
  return target;
}

test(`prune racing ostree-ts commit: ${RACES} races, no corruption`, async (t) => {
  await runRaces(t, 'ostree-ts commit', {
    setup: initTarget,
    ref: (i) => `b${i}`,
    writer: async (dir, target, i) => [process.execPath, [CLI, `--repo=${target}`, 'commit', '-b', `b${i}`, `--tree=dir=${await writeTree(dir, i)}`]],
  });
});

test(`prune racing the real ostree commit: ${RACES} races, no corruption`, async (t) => {
  await runRaces(t, 'ostree commit', {
    setup: initTarget,
    ref: (i) => `b${i}`,
    writer: async (dir, target, i) => ['ostree', [`--repo=${target}`, 'commit', '-b', `b${i}`, `--tree=dir=${await writeTree(dir, i)}`]],
  });
});

test(`prune racing ostree-ts pull-local: ${RACES} races, no corruption`, async (t) => {
  await runRaces(t, 'ostree-ts pull-local', {
    setup: async (dir) => {
      await ok(ots('init', `--repo=${path.join(dir, 'source')}`, '--mode=archive'));
      return initTarget(dir);
    },
    ref: (i) => `b${i}`,
    writer: async (dir, target, i) => {
      const source = path.join(dir, 'source');
      await ok(ots(`--repo=${source}`, 'commit', '-b', `b${i}`, `--tree=dir=${await writeTree(dir, i)}`));
      return [process.execPath, [CLI, `--repo=${target}`, 'pull-local', source, `b${i}`]];
    },
  });
});

test(`prune racing ostree-ts pull over HTTP: ${RACES} races, no corruption`, async (t) => {
  await runRaces(t, 'ostree-ts pull', {
    setup: async (dir) => {
      const source = path.join(dir, 'source');
      await ok(ots('init', `--repo=${source}`, '--mode=archive'));
      const { url } = await serveRepo(t, source, dir);
      const target = await initTarget(dir);
      await ok(ots(`--repo=${target}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
      return target;
    },
    ref: (i) => `origin:b${i}`,
    writer: async (dir, target, i) => {
      const source = path.join(dir, 'source');
      await ok(ots(`--repo=${source}`, 'commit', '-b', `b${i}`, `--tree=dir=${await writeTree(dir, i)}`));
      await ok(ots(`--repo=${source}`, 'summary', '-u'));
      return [process.execPath, [CLI, `--repo=${target}`, 'pull', 'origin', `b${i}`]];
    },
  });
});

/** Two writers commit different trees to one branch at once. */
async function runBranchRaces(t: TestContext, name: string, other: (repo: string, tree: string) => [string, string[]]): Promise<void> {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const rand = random(SEED ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 11));
  const target = await initTarget(dir);
  const began = performance.now();
  let head: string | null = null;
  for (let i = 1; i <= RACES; i++) {
    const a = await writeTree(path.join(dir, 'a'), 2 * i);
    const b = await writeTree(path.join(dir, 'b'), 2 * i + 1);
    const lead = rand() * 100;
    const [x, y] = await Promise.all([
      launch(process.execPath, [CLI, `--repo=${target}`, 'commit', '-b', 'main', `--tree=dir=${a}`], 0),
      launch(...other(target, b), lead),
    ]);
    const what = `${name} race ${i} (seed ${SEED}, second by ${lead.toFixed(0)} ms)`;
    assert.equal(x.code, 0, `${what}: ostree-ts commit failed\n${x.stderr}`);
    assert.equal(y.code, 0, `${what}: the other commit failed\n${y.stderr}`);
    await checkRepo(target, what);
    const made = [x.stdout.trim(), y.stdout.trim()];
    const repo = await Repo.open(target);
    const now = (await listRefs(repo)).find((r) => r.refspec === 'main')?.checksum ?? null;
    assert.ok(now !== null && made.includes(now), `${what}: main is ${now}, not one of ${made.join(', ')}`);
    const parent = (await repo.loadCommit(now)).parent;
    const allowed = [head, ...made.filter((c) => c !== now)];
    assert.ok(allowed.includes(parent), `${what}: main's parent ${parent} is neither the head before the race (${head}) nor the other commit`);
    head = now;
  }
  t.diagnostic(`${name}: ${RACES} races on one branch, seed ${SEED}, ${((performance.now() - began) / 1000).toFixed(1)} s, 0 corrupt repositories`);
}

test(`two ostree-ts commits on one branch: ${RACES} races, no corruption`, async (t) => {
  await runBranchRaces(t, 'ostree-ts commit twice', (repo, tree) => [process.execPath, [CLI, `--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`]]);
});

test(`ostree-ts commit and the real ostree commit on one branch: ${RACES} races, no corruption`, async (t) => {
  await runBranchRaces(t, 'ostree-ts and ostree commit', (repo, tree) => ['ostree', [`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`]]);
});
