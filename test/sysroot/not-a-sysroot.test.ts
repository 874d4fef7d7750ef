/**
 * Issue 14, defect 8: a directory that is not a sysroot stays as it was.
 * `admin os-init` refuses it, as the real ostree does, instead of making it
 * look like one; the mutating admin and atomic verbs refuse it before they
 * would create its ostree/lock. And a sysroot without its system repository
 * is told to make a bare one (admin init-fs), not an archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';

const ATOMIC = path.join(ROOT, 'dist', 'src', 'cli', 'atomic.js');

function atomic(...args: string[]): ReturnType<typeof run> {
  return run(process.execPath, [ATOMIC, ...args]);
}

/** Every file and directory under `dir`, relative to it. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
  return out.sort();
}

test('admin os-init on a directory that is not a sysroot fails as ostree does, and creates nothing', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const ours = path.join(dir, 'ours');
  const theirs = path.join(dir, 'theirs');
  await mkdir(ours);
  await mkdir(theirs);

  const real = await ostree('admin', 'os-init', 'debian', `--sysroot=${theirs}`);
  assert.equal(real.code, 1, 'the real ostree refuses it');
  assert.match(real.stderr, /opendir\(ostree\/repo\): No such file or directory/);
  assert.deepEqual(await listing(theirs), []);

  const r = await ots('admin', 'os-init', 'debian', `--sysroot=${ours}`);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '', 'no "initialized" line');
  assert.match(r.stderr, new RegExp(`^error: ${ours} is not an OSTree sysroot \\(it has no ostree/deploy or ostree/repo\\)\\. Nothing was changed\\. Create one with 'ostree-ts admin init-fs ${ours}'`, 'm'));
  assert.deepEqual(await listing(ours), [], 'nothing was written into it');

  // In a real sysroot it works, as it does for the real ostree.
  for (const [tool, root] of [[ots, ours], [ostree, theirs]] as const) {
    const made = await run('ostree', ['admin', 'init-fs', root]);
    assert.equal(made.code, 0, made.stderr);
    const done = await tool('admin', 'os-init', 'debian', `--sysroot=${root}`);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /ostree\/deploy\/debian initialized as OSTree root/);
  }
  const stateVar = (l: string[]): string[] => l.filter((p) => p.startsWith('ostree/deploy/debian/var'));
  assert.deepEqual(stateVar(await listing(ours)), stateVar(await listing(theirs)), 'the same /var as ostree makes');
});

test('mutating admin and atomic verbs refuse a directory that is not a sysroot before they take a lock in it', async (t) => {
  const dir = await tempDir(t);
  const verbs: Array<[string, string[]]> = [
    ['ostree-ts admin deploy', ['admin', 'deploy', '--os=debian', 'main']],
    ['ostree-ts admin undeploy', ['admin', 'undeploy', '0']],
    ['ostree-ts admin cleanup', ['admin', 'cleanup']],
    ['ostree-ts admin pin', ['admin', 'pin', '0']],
    ['ostree-ts admin set-origin', ['admin', 'set-origin', 'origin', 'http://127.0.0.1:9/', 'main']],
    ['ostree-ts admin upgrade', ['admin', 'upgrade']],
    ['ostree-ts admin switch', ['admin', 'switch', 'origin:other']],
    ['ostree-ts admin rollback', ['admin', 'rollback']],
    ['ostree-ts admin kargs', ['admin', 'kargs', 'edit-in-place', '--append-if-missing=quiet']],
    ['atomic upgrade', ['upgrade']],
    ['atomic deploy', ['deploy', '2.0']],
    ['atomic rebase', ['rebase', 'origin:other']],
    ['atomic rollback', ['rollback']],
    ['atomic kargs', ['kargs', '--append=quiet']],
    ['atomic pin', ['pin', '0']],
    ['atomic cleanup', ['cleanup']],
  ];
  for (const [name, args] of verbs) {
    const empty = path.join(dir, name.replace(/\W+/g, '-'));
    await mkdir(empty);
    const r = name.startsWith('atomic') ? await atomic(...args, `--sysroot=${empty}`) : await ots(...args, `--sysroot=${empty}`);
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`^error: ${empty} is not an OSTree sysroot`, 'm'), name);
    assert.deepEqual(await listing(empty), [], `${name} left the directory as it was (no ostree/lock)`);
  }
});

test('a sysroot without its system repository is told to create a bare one with admin init-fs, not an archive', async (t) => {
  const dir = await tempDir(t);
  const sysroot = path.join(dir, 'sysroot');
  await mkdir(path.join(sysroot, 'ostree', 'deploy'), { recursive: true });
  for (const [name, r] of [
    ['atomic status', await atomic('status', `--sysroot=${sysroot}`)],
    ['atomic upgrade', await atomic('upgrade', `--sysroot=${sysroot}`)],
    ['ostree-ts admin status', await ots('admin', 'status', `--sysroot=${sysroot}`)],
    ['ostree-ts admin deploy', await ots('admin', 'deploy', '--os=debian', 'main', `--sysroot=${sysroot}`)],
  ] as const) {
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`^error: The sysroot ${sysroot} has no system repository \\(${sysroot}/ostree/repo\\)\\. Create it with 'ostree-ts admin init-fs ${sysroot}' \\(a bare repository`, 'm'), name);
    assert.match(r.stderr, /--mode=bare/, name);
    assert.doesNotMatch(r.stderr, /archive/, `${name} does not suggest an archive repository`);
  }
});
