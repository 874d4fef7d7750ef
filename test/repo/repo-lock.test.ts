/**
 * libostree's repository lock (REPO/.lock, OFD locks), as ostree-ts takes it:
 * against the real ostree in both directions, and its rules on one handle and
 * between handles (shared beside shared, exclusive alone, recursion, the
 * timeout of core.lock-timeout-secs, released on every exit path).
 *
 * The real ostree is made to hold its lock for as long as the test wants by
 * `ostree commit --tree=tar=-`: it takes the lock when its transaction
 * starts, then reads the tree from a pipe the test closes when it chooses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { putFile } from '../helpers/trees.js';
import { LockFile, lockFile, lockHolders } from '../../src/io/index.js';
import { Repo, Transaction, firstMissing, fsck, listRefs, prune } from '../../src/repo/index.js';
import { OstreeTsError } from '../../src/errors/index.js';

/** A process started by a test, with its output and its end. */
interface Running {
  child: ChildProcess;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
  finished: () => boolean;
  /** Its standard output so far. */
  stdout: () => string;
}

function start(cmd: string, args: string[]): Running {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let over = false;
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  child.stdin!.on('error', () => undefined);
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      over = true;
      resolve({ code: code ?? -1, stdout: out, stderr: err });
    });
  });
  return { child, done, finished: () => over, stdout: () => out };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How `file` is locked by others, as this process sees it: 'shared', 'exclusive' or null. */
async function conflictOn(file: string): Promise<'shared' | 'exclusive' | null> {
  const f = await LockFile.open(file);
  try {
    return f.conflict('exclusive');
  } finally {
    await f.close();
  }
}

/** How a repository's `.lock` is held by others. */
function heldAs(repo: string): Promise<'shared' | 'exclusive' | null> {
  return conflictOn(path.join(repo, '.lock'));
}

async function waitUntilHeld(repo: string, mode: 'shared' | 'exclusive', what: Running): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await heldAs(repo)) === mode) return;
    if (what.finished()) throw new Error(`the holder ended before it locked ${repo}: ${(await what.done).stderr}`);
    await sleep(25);
  }
  throw new Error(`${repo}/.lock was never held ${mode}`);
}

/** A tar of a small tree whose files say `tag` (new objects each time). */
async function tarOf(dir: string, tag: string): Promise<Buffer> {
  const tree = path.join(dir, `tree-${tag}`);
  for (let i = 0; i < 5; i++) await putFile(tree, `d${i}/f${i}.txt`, `${tag} ${i}\n`);
  const r = await run('tar', ['-cf', '-', '-C', tree, '.']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdoutBuf;
}

async function countObjects(repo: string): Promise<number> {
  let n = 0;
  for (const d of await readdir(path.join(repo, 'objects'))) n += (await readdir(path.join(repo, 'objects', d))).length;
  return n;
}

/** An archive repository with an unreachable commit (its ref deleted), so that prune has work. */
async function repoWithGarbage(dir: string): Promise<string> {
  const repo = path.join(dir, 'repo');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const tree = path.join(dir, 'garbage');
  await putFile(tree, 'old.txt', 'unreachable soon\n');
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'old', `--tree=dir=${tree}`));
  await ok(ostree(`--repo=${repo}`, 'refs', '--delete', 'old'));
  return repo;
}

async function bothFsckClean(repo: string): Promise<void> {
  await ok(ostree(`--repo=${repo}`, 'fsck'), 'ostree fsck');
  await ok(ots(`--repo=${repo}`, 'fsck'), 'ostree-ts fsck');
}

test('ostree-ts prune and a real ostree commit holding the lock: it times out naming the holder and deleting nothing, or waits and then prunes', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = await repoWithGarbage(dir);
  const before = await countObjects(repo);
  const tar = await tarOf(dir, 'real');

  await ok(ostree(`--repo=${repo}`, 'config', 'set', 'core.lock-timeout-secs', '1'));
  const commit = start('ostree', [`--repo=${repo}`, 'commit', '-b', 'new', '--tree=tar=-']);
  t.after(() => { commit.child.kill('SIGKILL'); });
  await waitUntilHeld(repo, 'shared', commit);

  const began = Date.now();
  const refused = await ots(`--repo=${repo}`, 'prune', '--refs-only');
  const took = Date.now() - began;
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`^error: The repository ${repo} is locked shared by pid ${commit.child.pid} \\(ostree --repo=${repo} commit -b new --tree=tar=-\\); prune needs it exclusive, and waited 1 s`, 'm'));
  assert.match(refused.stderr, /Nothing was changed\./);
  assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(took >= 1000, `it waited the second of core.lock-timeout-secs (${took} ms)`);
  assert.equal(await countObjects(repo), before, 'prune deleted nothing');

  // With the default timeout (30 s) it waits while the commit goes on, then prunes.
  await ok(ostree(`--repo=${repo}`, 'config', 'unset', 'core.lock-timeout-secs'));
  const pruning = start(process.execPath, [CLI, `--repo=${repo}`, 'prune', '--refs-only']);
  await sleep(1500);
  assert.equal(pruning.finished(), false, 'prune waits for the commit');
  assert.equal(await countObjects(repo), before, 'nothing is deleted while it waits');
  commit.child.stdin!.end(tar);
  const committed = await commit.done;
  assert.equal(committed.code, 0, committed.stderr);
  const pruned = await pruning.done;
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Deleted \d+ objects/);

  const head = await ok(ostree(`--repo=${repo}`, 'rev-parse', 'new'));
  assert.equal(head, committed.stdout.trim());
  const r = await Repo.open(repo);
  assert.equal(await firstMissing(r, head), null, 'the new commit is complete');
  await bothFsckClean(repo);
  assert.equal(await heldAs(repo), null, 'nobody holds the lock afterwards');
});

test('the real ostree prune and an ostree-ts commit holding the lock: with no timeout it fails as ostree does; otherwise it waits for the transaction', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = await repoWithGarbage(dir);
  const before = await countObjects(repo);
  const tar = await tarOf(dir, 'ts');

  const commit = start(process.execPath, [CLI, `--repo=${repo}`, 'commit', '-b', 'ts', '--tree=tar=-']);
  t.after(() => { commit.child.kill('SIGKILL'); });
  await waitUntilHeld(repo, 'shared', commit);

  await ok(ostree(`--repo=${repo}`, 'config', 'set', 'core.lock-timeout-secs', '0'));
  const refused = await ostree(`--repo=${repo}`, 'prune', '--refs-only');
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /Locking repo exclusive failed: Resource temporarily unavailable/);
  assert.equal(await countObjects(repo), before, 'ostree prune deleted nothing');

  await ok(ostree(`--repo=${repo}`, 'config', 'set', 'core.lock-timeout-secs', '20'));
  const pruning = start('ostree', [`--repo=${repo}`, 'prune', '--refs-only']);
  await sleep(1500);
  assert.equal(pruning.finished(), false, 'ostree prune waits for the ostree-ts transaction');
  commit.child.stdin!.end(tar);
  const committed = await commit.done;
  assert.equal(committed.code, 0, committed.stderr);
  const pruned = await pruning.done;
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Deleted \d+ objects/);

  const head = await ok(ostree(`--repo=${repo}`, 'rev-parse', 'ts'));
  assert.equal(head, committed.stdout.trim());
  await bothFsckClean(repo);
});

test('the lock file: REPO/.lock, created by the first writer, unlocked again when it is done, on success or failure', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const r = await Repo.open(repo);
  const tree = path.join(dir, 'tree');
  await putFile(tree, 'a', 'a\n');

  const txn = await Transaction.begin(r);
  assert.equal(r.lock.state, 'shared');
  assert.equal(await heldAs(repo), 'shared', 'a transaction holds the lock shared');
  assert.equal((await stat(path.join(repo, '.lock'))).isFile(), true);
  await txn.abort();
  assert.equal(r.lock.state, 'unlocked');
  assert.equal(await heldAs(repo), null, 'abort gives it back');

  const txn2 = await Transaction.begin(r);
  await txn2.commit();
  assert.equal(await heldAs(repo), null, 'commit gives it back');

  // A failing verb releases it too (here a commit of a tree that does not exist).
  const failed = await ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=dir=${path.join(dir, 'nope')}`);
  assert.equal(failed.code, 1);
  await assert.rejects(r.withLock('shared', 'a test', async () => {
    assert.equal(await heldAs(repo), 'shared');
    throw new Error('boom');
  }), /boom/);
  assert.equal(r.lock.state, 'unlocked');
  assert.equal(await heldAs(repo), null, 'released after a throw');

  // The real ostree's commit and ours in turn, each finding the lock free.
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=dir=${tree}`));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'y', `--tree=dir=${tree}`));
  await bothFsckClean(repo);
});

test('one handle: recursive, the strongest mode held until its pops; between handles: shared beside shared, exclusive alone', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await Repo.init(repo, 'archive');
  const a = await Repo.open(repo);
  const b = await Repo.open(repo);
  // Decided at once, without waiting.
  a.config.set('core', 'lock-timeout-secs', '0');
  b.config.set('core', 'lock-timeout-secs', '0');

  await a.lock.push('shared', 'first');
  await a.lock.push('shared', 'second');
  await a.lock.pop('shared');
  assert.equal(a.lock.state, 'shared', 'one pop of two leaves it held');
  assert.equal(await heldAs(repo), 'shared');

  await b.lock.push('shared', 'beside');
  assert.equal(b.lock.state, 'shared', 'two handles share it');
  const upgrade = await b.lock.push('exclusive', 'prune').then(() => null, (e: unknown) => e);
  assert.ok(upgrade instanceof OstreeTsError, 'exclusive is refused while another handle shares it');
  assert.equal(upgrade.code, 'E_LOCKED');
  assert.match(upgrade.message, new RegExp(`The repository ${repo} is locked shared by pid ${process.pid} \\(`));
  assert.match(upgrade.message, /prune needs it exclusive, and was not to wait for it \(core\.lock-timeout-secs is 0\)/);
  assert.doesNotMatch(upgrade.message, /Nothing was changed/, 'b held the lock already: no promise about what it did');
  assert.equal(b.lock.state, 'shared', 'a refused upgrade keeps the shared lock');

  await a.lock.pop('shared');
  await b.lock.push('exclusive', 'prune');
  assert.equal(b.lock.state, 'exclusive', 'alone, the shared lock becomes exclusive');
  assert.equal(await heldAs(repo), 'exclusive');
  await assert.rejects(a.lock.push('shared', 'commit'), (e: unknown) => e instanceof OstreeTsError && e.code === 'E_LOCKED' && /locked exclusive/.test(e.message) && /Nothing was changed/.test(e.message));
  assert.equal(a.lock.state, 'unlocked');
  await b.lock.push('shared', 'inside');
  assert.equal(b.lock.state, 'exclusive', 'a shared push under exclusive stays exclusive');
  await b.lock.pop('shared');
  await b.lock.pop('exclusive');
  assert.equal(b.lock.state, 'shared', 'back to shared once the exclusive push is popped');
  assert.equal(await heldAs(repo), 'shared');
  await a.lock.push('shared', 'again');
  await a.lock.pop('shared');
  await b.lock.pop('shared');
  assert.equal(await heldAs(repo), null, 'all popped: unlocked');
  await assert.rejects(b.lock.pop('shared'), /Internal error: the shared lock .* was released more often than taken/);

  // core.locking=false: no lock at all.
  a.config.set('core', 'locking', 'false');
  await a.lock.push('exclusive', 'prune');
  assert.equal(await heldAs(repo), null);
  await a.lock.pop('exclusive');
});

test('core.lock-timeout-secs: waits up to the timeout, for ever at -1 (without blocking the event loop), and refuses nonsense', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await Repo.init(repo, 'archive');
  const a = await Repo.open(repo);
  const b = await Repo.open(repo);

  // Given within the timeout, it is taken when given.
  b.config.set('core', 'lock-timeout-secs', '5');
  await a.lock.push('shared', 'commit');
  setTimeout(() => { void a.lock.pop('shared'); }, 300);
  const t0 = Date.now();
  await b.lock.push('exclusive', 'prune');
  const waited = Date.now() - t0;
  assert.ok(waited >= 250 && waited < 3000, `took it once released (${waited} ms)`);
  await b.lock.pop('exclusive');

  // -1: as long as it takes, in a thread of the addon's, while timers run.
  b.config.set('core', 'lock-timeout-secs', '-1');
  await a.lock.push('exclusive', 'prune');
  let ticks = 0;
  const ticker = setInterval(() => { ticks++; }, 20);
  setTimeout(() => { void a.lock.pop('exclusive'); }, 500);
  await b.lock.push('shared', 'commit');
  clearInterval(ticker);
  assert.ok(ticks >= 10, `the event loop ran while it waited (${ticks} ticks)`);
  assert.equal(b.lock.state, 'shared');
  await b.lock.pop('shared');

  b.config.set('core', 'lock-timeout-secs', '-5');
  await assert.rejects(b.lock.push('shared', 'commit'), (e: unknown) => e instanceof OstreeTsError && e.code === 'E_REPO_CONFIG' && /core\.lock-timeout-secs is -5/.test(e.message));
  // As libostree reads it: a leading number, anything else 0.
  b.config.set('core', 'lock-timeout-secs', 'soon');
  await a.lock.push('exclusive', 'prune');
  const t1 = Date.now();
  await assert.rejects(b.lock.push('shared', 'commit'), /was not to wait/);
  assert.ok(Date.now() - t1 < 1000);
  await a.lock.pop('exclusive');
});

test('the holders of a repository lock are found by pid and command line (the real ostree here), and none once it is gone', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = await repoWithGarbage(dir);
  const commit = start('ostree', [`--repo=${repo}`, 'commit', '-b', 'held', '--tree=tar=-']);
  t.after(() => { commit.child.kill('SIGKILL'); });
  await waitUntilHeld(repo, 'shared', commit);
  const holders = await lockHolders(path.join(repo, '.lock'));
  assert.deepEqual(holders.map((h) => [h.pid, h.mode]), [[commit.child.pid, 'shared']]);
  assert.match(holders[0].command, /^ostree --repo=.* commit -b held --tree=tar=-$/);
  commit.child.stdin!.end(await tarOf(dir, 'held'));
  assert.equal((await commit.done).code, 0);
  assert.deepEqual(await lockHolders(path.join(repo, '.lock')), []);
  // Library prune, then: the refs it keeps point at complete commits.
  const r = await Repo.open(repo);
  await prune(r, { refsOnly: true });
  for (const ref of await listRefs(r)) assert.equal(await firstMissing(r, ref.checksum), null);
  assert.deepEqual((await fsck(r)).problems, []);
});

/** Perl, an independent implementation: take an exclusive OFD lock (F_OFD_SETLKW = 38) on ARGV[0], hold it until stdin ends. */
const HOLD_OFD_LOCK = 'use Fcntl; sysopen(my $fh, $ARGV[0], O_RDWR|O_CREAT, 0644) or die "open: $!"; '
  + 'my $lk = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0); fcntl($fh, 38, $lk) or die "F_OFD_SETLKW: $!"; '
  + '$| = 1; print "held\\n"; while (<STDIN>) {}';

test('the sysroot lock needs no other program: an OFD lock another process holds is seen with nothing on PATH', async (t) => {
  if (!(await requireTool(t, 'perl', 'perl-base'))) return;
  const dir = await tempDir(t);
  const file = path.join(dir, 'lock');
  const holder = start('perl', ['-e', HOLD_OFD_LOCK, file]);
  t.after(() => { holder.child.kill('SIGKILL'); });
  for (let i = 0; i < 400 && !holder.stdout().includes('held'); i++) {
    if (holder.finished()) throw new Error(`the holder ended: ${(await holder.done).stderr}`);
    await sleep(25);
  }
  assert.equal(await conflictOn(file), 'exclusive');
  const io = path.join(path.dirname(CLI), '..', 'io', 'index.js');
  const probe = await run(process.execPath, ['--input-type=module', '-e',
    `const io = await import(${JSON.stringify(io)}); const l = await io.lockFile(${JSON.stringify(file)}, { wait: false }); console.log(l ? 'taken' : 'held');`], { env: { PATH: '/nonexistent' } });
  assert.equal(probe.code, 0, probe.stderr);
  assert.equal(probe.stdout.trim(), 'held', 'the lock of another process is seen without python3 or flock');
  holder.child.stdin!.end();
  await holder.done;
  const free = await lockFile(file, { wait: false });
  assert.ok(free, 'free once the holder is gone');
  await free.release();
});
