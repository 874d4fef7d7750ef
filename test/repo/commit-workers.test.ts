/**
 * A commit of more than a handful of files reads, hashes and stages its
 * small files on worker threads (commit-writer.ts, WorkerFiles); the first
 * files and the large ones stay on the main thread. Both ways must give the
 * real ostree's checksums in every mode, write what `ostree fsck` accepts,
 * share duplicates, and fail clearly on what no tree may hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { MODES, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeManyFilesTree as makeLargeTree } from '../helpers/trees.js';

const COMMIT_ARGS = ['--timestamp=@1700000000', '-s', 'workers'];

async function commitBoth(dir: string, mode: string, tree: string, extra: string[] = []): Promise<{ ours: string; theirs: string; repo: string }> {
  const repo = path.join(dir, `ots-${mode}-${extra.join('')}`);
  const theirRepo = path.join(dir, `ostree-${mode}-${extra.join('')}`);
  await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
  await ok(ostree('init', `--repo=${theirRepo}`, `--mode=${mode}`));
  const args = ['commit', '-b', 'main', `--tree=dir=${tree}`, ...COMMIT_ARGS, ...extra];
  const ours = await ok(ots(`--repo=${repo}`, ...args), 'ostree-ts commit');
  const theirs = await ok(ostree(`--repo=${theirRepo}`, ...args), 'ostree commit');
  return { ours: ours.trim(), theirs: theirs.trim(), repo };
}

function objectCount(repo: string): number {
  const out = execFileSync('find', [path.join(repo, 'objects'), '-type', 'f'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).length;
}

test('a tree of hundreds of files commits to ostree\'s checksum in every mode, and ostree fsck passes', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeLargeTree(path.join(dir, 'tree'));
  for (const mode of MODES) {
    const { ours, theirs, repo } = await commitBoth(dir, mode, tree);
    assert.match(ours, /^[0-9a-f]{64}$/);
    assert.equal(ours, theirs, mode);
    const fsck = await ok(ostree(`--repo=${repo}`, 'fsck'), `ostree fsck (${mode})`);
    assert.match(fsck, /no errors found/, mode);
    // Committed again, the tree is hashed only: the same commit, no new object but the commit's own.
    const before = objectCount(repo);
    const again = (await ok(ots(`--repo=${repo}`, 'commit', '-b', 'again', `--tree=dir=${tree}`, ...COMMIT_ARGS, '--orphan'))).trim();
    assert.match(again, /^[0-9a-f]{64}$/);
    assert.equal(objectCount(repo), before + (again === ours ? 0 : 1), `${mode}: re-commit wrote content`);
    assert.deepEqual((await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('staging-')), [], `${mode}: staging left behind`);
  }
});

test('owner, canonical-permission and no-xattr rules apply on the workers as ostree applies them', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeLargeTree(path.join(dir, 'tree'));
  // Canonical permissions also leave every xattr out (libostree reads none then).
  for (const extra of [['--owner-uid=1000', '--owner-gid=1001'], ['--canonical-permissions'], ['--no-xattrs']]) {
    const { ours, theirs } = await commitBoth(dir, 'bare-user', tree, extra);
    assert.equal(ours, theirs, extra.join(' '));
  }
  // So does core.disable-xattrs in the repository's config.
  const a = path.join(dir, 'ots-noxattr');
  const b = path.join(dir, 'ostree-noxattr');
  await ok(ots('init', `--repo=${a}`, '--mode=bare-user'));
  await ok(ostree('init', `--repo=${b}`, '--mode=bare-user'));
  await ok(ots(`--repo=${a}`, 'config', 'set', 'core.disable-xattrs', 'true'));
  await ok(ostree(`--repo=${b}`, 'config', 'set', 'core.disable-xattrs', 'true'));
  const args = ['commit', '-b', 'main', `--tree=dir=${tree}`, ...COMMIT_ARGS];
  assert.equal((await ok(ots(`--repo=${a}`, ...args))).trim(), (await ok(ostree(`--repo=${b}`, ...args))).trim(), 'core.disable-xattrs');
});

test('a FIFO met by a worker fails the commit, naming it, and leaves nothing staged', async (t) => {
  const dir = await tempDir(t);
  const tree = await makeLargeTree(path.join(dir, 'tree'));
  await mkdir(path.join(tree, 'zz', 'deep'), { recursive: true });
  execFileSync('mkfifo', [path.join(tree, 'zz', 'deep', 'pipe')]);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const r = await ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, ...COMMIT_ARGS);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /\/zz\/deep\/pipe: it is a FIFO/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual((await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('staging-')), []);
  assert.equal((await ots(`--repo=${repo}`, 'rev-parse', 'main')).code === 0, false, 'no ref was written');
});
