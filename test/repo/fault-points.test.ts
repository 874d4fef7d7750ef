/**
 * The order in which a commit becomes visible, proven at fault points the
 * repository handle carries (not by killing at random moments): a commit
 * stopped after its objects were renamed into objects/ but before its commit
 * object was leaves no commit and an unmoved ref; one stopped after the
 * commit was stored but before the ref leaves a complete commit and the old
 * ref. Both fsck tools are clean each time, and the next commit succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { decodeCommit, sha256Hex } from '../../src/format/index.js';
import { Repo } from '../../src/repo/index.js';
import { CLI, ok, ostree, requireOstree, run, tempDir, type RunResult } from '../helpers/env.js';
import { makeRichTree } from '../helpers/trees.js';

function otsWithFault(fault: string, ...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { env: { OSTREE_TS_TEST_FAULT: fault } });
}

async function present(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/** Every object of `commit`'s tree that the repository lacks, as TYPE CHECKSUM. */
async function missingFromTree(repo: Repo, rootTree: string, rootMeta: string): Promise<string[]> {
  const missing: string[] = [];
  const seen = new Set<string>();
  const visit = async (tree: string, meta: string): Promise<void> => {
    if (!(await repo.hasObject(meta, 'dirmeta'))) missing.push(`dirmeta ${meta}`);
    if (seen.has(tree)) return;
    seen.add(tree);
    if (!(await repo.hasObject(tree, 'dirtree'))) {
      missing.push(`dirtree ${tree}`);
      return;
    }
    const t = await repo.loadDirTree(tree);
    for (const f of t.files) if (!(await repo.hasObject(f.checksum, 'file'))) missing.push(`file ${f.checksum}`);
    for (const d of t.dirs) await visit(d.tree, d.meta);
  };
  await visit(rootTree, rootMeta);
  return missing;
}

async function fsckBoth(repo: string, hasOstree: boolean, when: string): Promise<void> {
  const ours = await run(process.execPath, [CLI, 'fsck', `--repo=${repo}`]);
  assert.equal(ours.code, 0, `ostree-ts fsck ${when}:\n${ours.stderr}`);
  if (hasOstree) {
    const theirs = await ostree('fsck', `--repo=${repo}`);
    assert.equal(theirs.code, 0, `ostree fsck ${when}:\n${theirs.stderr}`);
  }
}

for (const mode of ['archive', 'bare-user'] as const) {
  test(`${mode}: a commit stopped before its commit object, then before its ref, shows the order objects → commit → ref`, async (t) => {
    const hasOstree = await requireOstree(t);
    const dir = await tempDir(t);
    const repo = path.join(dir, 'repo');
    await ok(run(process.execPath, [CLI, 'init', `--repo=${repo}`, `--mode=${mode}`]));
    const first = await ok(run(process.execPath, [CLI, `--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', `--tree=dir=${await makeRichTree(path.join(dir, 'v1'))}`]));
    const tree = await makeRichTree(path.join(dir, 'v2'));
    for (let i = 0; i < 40; i++) {
      await mkdir(path.join(tree, 'more', `d${i % 4}`), { recursive: true });
      await writeFile(path.join(tree, 'more', `d${i % 4}`, `f${i}`), `file ${i} of v2\n`);
    }
    const commitV2 = [`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000100', '-s', 'v2', `--tree=dir=${tree}`];
    const rev = (): Promise<string> => ok(run(process.execPath, [CLI, `--repo=${repo}`, 'rev-parse', 'main']));
    const commitPath = (c: string): string => path.join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.commit`);

    // 1. Stopped between the object renames and the commit rename.
    const stopped = await otsWithFault('before-commit-rename', ...commitV2);
    assert.notEqual(stopped.code, 0, 'the commit stopped');
    assert.match(stopped.stderr, /fault point 'before-commit-rename'/);
    assert.doesNotMatch(stopped.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await rev(), first, 'the ref did not move');
    // What was left behind is what a process killed there leaves: a staging directory holding only the commit (and its lock file).
    const names = (await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('staging-'));
    const staging = names.filter((n) => !n.endsWith('-lock'));
    assert.equal(staging.length, 1, `one staging directory left: ${names.join(', ')}`);
    assert.deepEqual(names.filter((n) => n.endsWith('-lock')), [`${staging[0]}-lock`], 'and its lock file');
    const left = await readdir(path.join(repo, 'tmp', staging[0]));
    assert.equal(left.length, 1, `only the commit object is still staged: ${left.join(', ')}`);
    assert.match(left[0], /^[0-9a-f]{64}\.commit$/);
    const bytes = await readFile(path.join(repo, 'tmp', staging[0], left[0]));
    const v2 = sha256Hex(bytes);
    assert.equal(left[0], `${v2}.commit`);
    const staged = decodeCommit(bytes, v2);
    assert.equal(staged.parent, first);
    assert.equal(await present(commitPath(v2)), false, 'no commit object for the new commit in objects/');
    // Every other object of the new commit is already in objects/: they go first.
    const handle = await Repo.open(repo);
    assert.deepEqual(await missingFromTree(handle, staged.rootTree, staged.rootMeta), [], 'the tree objects were renamed before the commit');
    assert.deepEqual(await readdir(path.join(repo, 'state')), [], 'no commit marked partial');
    await fsckBoth(repo, hasOstree, 'after a stop before the commit rename');

    // 2. Stopped between the commit and the ref.
    const beforeRef = await otsWithFault('before-ref', ...commitV2);
    assert.notEqual(beforeRef.code, 0, 'the commit stopped');
    assert.match(beforeRef.stderr, /fault point 'before-ref'/);
    assert.equal(await rev(), first, 'the ref still names the old commit');
    assert.equal(await present(commitPath(v2)), true, 'the commit object is stored');
    assert.equal(sha256Hex(await readFile(commitPath(v2))), v2);
    assert.deepEqual(await missingFromTree(handle, staged.rootTree, staged.rootMeta), [], 'the commit is complete');
    assert.equal(await handle.isCommitPartial(v2), false);
    await fsckBoth(repo, hasOstree, 'after a stop before the ref');
    if (hasOstree) {
      // The real ostree reads the stored commit in full.
      const out = path.join(dir, 'checkout');
      await ok(ostree(`--repo=${repo}`, 'checkout', ...(mode === 'bare-user' ? ['-U'] : []), v2, out), 'ostree checkout of the stored commit');
      assert.equal(await readFile(path.join(out, 'more', 'd3', 'f39'), 'utf8'), 'file 39 of v2\n');
    }

    // 3. Without a fault, the same commit goes through and the ref moves to it.
    assert.equal(await ok(run(process.execPath, [CLI, ...commitV2])), v2);
    assert.equal(await rev(), v2);
    await fsckBoth(repo, hasOstree, 'after the commit completed');
  });
}

test('an unknown fault point is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(run(process.execPath, [CLI, 'init', `--repo=${repo}`, '--mode=archive']));
  const r = await otsWithFault('before-everything', `--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${await makeRichTree(path.join(dir, 't'))}`);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unknown fault point 'before-everything'.*before-commit-rename, before-ref/);
  assert.deepEqual(await readdir(path.join(repo, 'refs', 'heads')), []);
});
