/**
 * A transaction's staging directory is locked (`tmp/staging-…-lock`, an OFD
 * lock) for as long as it is in use, so the cleanup every transaction
 * begins with removes only what dead transactions left, however short
 * `core.tmp-expiry-secs` is: not the directory of another transaction of
 * the same process (a pull runs several), nor of another process. Found by
 * the torture suite: with core.tmp-expiry-secs=0 every pull and upgrade
 * failed, its staging directory removed under it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeDirMeta } from '../../src/format/index.js';
import { Repo, Transaction } from '../../src/repo/index.js';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeBasicTree } from '../helpers/trees.js';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** What transactions leave in tmp/ (tmp/cache is the repository's own). */
const staging = async (repo: string): Promise<string[]> => (await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('staging-'));
const isDir = (p: string): Promise<boolean> => stat(p).then((s) => s.isDirectory(), () => false);

async function expiringRepo(dir: string): Promise<Repo> {
  const repo = await Repo.init(path.join(dir, 'repo'), 'archive');
  repo.config.set('core', 'tmp-expiry-secs', '0');
  await repo.saveConfig();
  return Repo.open(path.join(dir, 'repo'));
}

test('a second transaction of the same process leaves the first one\'s staging directory alone (core.tmp-expiry-secs=0)', async (t) => {
  const dir = await tempDir(t);
  const repo = await expiringRepo(dir);
  const first = await Transaction.begin(repo);
  const meta = await first.writeMetadata('dirmeta', encodeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] }));
  await pause(20); // older than "now" by more than the expiry
  const second = await Transaction.begin(repo);
  assert.ok(await isDir(first.stagingDir), 'the first staging directory is still there');
  await first.commit();
  await second.commit();
  assert.ok(await repo.hasObject(meta, 'dirmeta'), 'what the first transaction staged is in the repository');
  assert.deepEqual(await staging(repo.path), [], 'both transactions removed their directory and its lock file');
});

test('another process\'s cleanup removes a dead transaction\'s staging directory, not a live one\'s', async (t) => {
  const hasOstree = await requireOstree(t);
  const dir = await tempDir(t);
  const repo = await expiringRepo(dir);
  const live = await Transaction.begin(repo);
  const meta = await live.writeMetadata('dirmeta', encodeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] }));
  // What a killed transaction leaves: a staging directory whose lock nobody holds.
  const dead = path.join(repo.path, 'tmp', 'staging-00000000000000000000000000000000-dead01');
  await mkdir(path.join(dead, 'x'), { recursive: true });
  await pause(20);
  await ok(ots(`--repo=${repo.path}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`), 'commit');
  assert.equal(await isDir(dead), false, 'the dead transaction\'s directory is removed');
  assert.ok(await isDir(live.stagingDir), 'the live transaction\'s directory is kept');
  await live.commit();
  assert.ok(await repo.hasObject(meta, 'dirmeta'));
  assert.deepEqual(await staging(repo.path), []);
  assert.equal((await ots('fsck', `--repo=${repo.path}`)).code, 0);
  if (hasOstree) assert.equal((await ostree('fsck', `--repo=${repo.path}`)).code, 0);
});

test('pull-local into a repository with core.tmp-expiry-secs=0 completes', async (t) => {
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  await ok(ots('init', `--repo=${src}`, '--mode=archive'));
  const csum = await ok(ots(`--repo=${src}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  const repo = await expiringRepo(dir);
  await ok(ots(`--repo=${repo.path}`, 'pull-local', src, 'main'), 'pull-local');
  assert.equal(await ok(ots(`--repo=${repo.path}`, 'rev-parse', 'main')), csum);
  assert.deepEqual(await staging(repo.path), []);
});
