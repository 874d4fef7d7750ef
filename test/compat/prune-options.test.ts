/**
 * Issue 18: the prune options of ostree 2022.7. The same repository is
 * copied twice, pruned by ostree and by ostree-ts with the same options, and
 * the output, exit status and resulting repository trees (every file's path
 * and bytes, the config included) are compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, lstat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';

async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const r = `${rel}/${name}`;
      if (r === '/tmp' || r === '/.lock') continue;
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p, r);
      else out.push(`${r} ${st.isFile() ? (await readFile(p)).toString('base64') : 'other'}`);
    }
  };
  await walk(root, '');
  return out;
}

test('prune --only-branch, --retain-branch-depth, --commit-only, --delete-commit, --static-deltas-only: as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const base = path.join(dir, 'base');
  await ok(ostree('init', `--repo=${base}`, '--mode=archive'));
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'usr'), { recursive: true });
  for (let i = 1; i <= 3; i++) {
    for (const branch of ['main', 'other']) {
      await writeFile(path.join(tree, 'usr', 'v'), `${branch} ${i}\n`);
      await ok(ostree(`--repo=${base}`, 'commit', '-b', branch, `--timestamp=@${1700000000 + i}`, tree));
    }
  }
  await ok(ostree(`--repo=${base}`, 'static-delta', 'generate', 'main'));
  const head = (await ok(ostree(`--repo=${base}`, 'rev-parse', 'main'))).trim();
  const parent = (await ok(ostree(`--repo=${base}`, 'rev-parse', 'main^'))).trim();
  const cases = [
    ['--only-branch=other', '--depth=0'],
    ['--only-branch=main', '--depth=1'],
    ['--only-branch=main', '--refs-only', '--depth=0'],
    ['--retain-branch-depth=main=0'],
    ['--refs-only', '--depth=0', '--retain-branch-depth=main=1'],
    ['--refs-only', '--depth=0', '--commit-only'],
    ['--refs-only', '--depth=0', '--no-prune'],
    ['--refs-only', '--depth=0'],
    [`--delete-commit=${parent}`],
    [`--delete-commit=${head}`],
    [`--delete-commit=${parent}`, '--no-prune'],
    ['--static-deltas-only', `--delete-commit=${head}`],
  ];
  for (const args of cases) {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    await cp(base, a, { recursive: true });
    await cp(base, b, { recursive: true });
    const theirs = await ostree(`--repo=${a}`, 'prune', ...args);
    const ours = await ots(`--repo=${b}`, 'prune', ...args);
    assert.equal(ours.code, theirs.code, `${args.join(' ')}: exit status (${theirs.stderr.trim()} / ${ours.stderr.trim()})`);
    assert.equal(ours.stdout, theirs.stdout, args.join(' '));
    assert.deepEqual(await snapshot(b), await snapshot(a), `${args.join(' ')}: the repository afterwards`);
    await ok(ostree(`--repo=${b}`, 'fsck'));
    const { rm } = await import('node:fs/promises');
    await rm(a, { recursive: true });
    await rm(b, { recursive: true });
  }
});
