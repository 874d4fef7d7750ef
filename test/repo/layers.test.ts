/**
 * Issue 3: several --tree arguments layer in order as in OSTree, --base
 * starts from a commit, and --statoverride / --skip-list behave as OSTree's;
 * every result is checked against the real ostree's commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { gnuTar } from '../helpers/archives.js';
import { makeBasicTree, makeRichTree } from '../helpers/trees.js';

const COMMIT = ['commit', '--timestamp=@1700000000', '-s', 'layers'];

test('layered trees, --base, statoverride and skip-list give the same commits as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const rich = await makeRichTree(path.join(dir, 'rich'));
  const over = path.join(dir, 'over');
  await mkdir(path.join(over, 'sub', 'nested'), { recursive: true });
  await mkdir(path.join(over, 'newdir'), { recursive: true });
  await writeFile(path.join(over, 'hello.txt'), 'replaced\n');
  await writeFile(path.join(over, 'sub', 'nested', 'added.txt'), 'added\n');
  await writeFile(path.join(over, 'newdir', 'f'), 'f\n');
  await run('chmod', ['0750', path.join(over, 'sub')]);
  const overTar = await gnuTar(over, path.join(dir, 'over.tar'));
  const richTar = await gnuTar(rich, path.join(dir, 'rich.tar'));
  const statoverride = path.join(dir, 'statoverride');
  // Decimal, as OSTree reads it: 2048 is the setgid bit; "=" sets the permission bits.
  await writeFile(statoverride, '2048 /run.sh\n=384 /hello.txt\n');
  const skiplist = path.join(dir, 'skiplist');
  await writeFile(skiplist, '/large.bin\n/ünïcödé\n');
  // In an archive, skipping a directory entry does not skip what it holds (as in ostree): skip files only.
  const tarSkiplist = path.join(dir, 'tar-skiplist');
  await writeFile(tarSkiplist, '/large.bin\n/ünïcödé/日本語.txt\n');
  const ours = path.join(dir, 'ours');
  const theirs = path.join(dir, 'theirs');
  for (const mode of ['archive', 'bare-user'] as const) {
    await run('rm', ['-rf', ours, theirs]);
    await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    // The base commit both sides layer onto.
    const baseA = await ok(ots(`--repo=${ours}`, ...COMMIT, '-b', 'base', `--tree=dir=${rich}`));
    const baseB = await ok(ostree(`--repo=${theirs}`, ...COMMIT, '-b', 'base', `--tree=dir=${rich}`));
    assert.equal(baseA, baseB);
    const cases: string[][] = [
      [`--tree=dir=${rich}`, `--tree=dir=${over}`],
      [`--tree=ref=base`, `--tree=dir=${over}`],
      [`--tree=ref=base`, `--tree=tar=${overTar}`],
      [`--tree=tar=${richTar}`, `--tree=tar=${overTar}`],
      [`--tree=dir=${over}`, `--tree=ref=base`],
      ['--base=base', `--tree=dir=${over}`],
      [`--tree=dir=${rich}`, `--statoverride=${statoverride}`, `--skip-list=${skiplist}`],
      [`--tree=tar=${richTar}`, `--statoverride=${statoverride}`, `--skip-list=${tarSkiplist}`],
      [`--tree=tar=${richTar}`, '--owner-uid=42', '--owner-gid=43'],
    ];
    for (const [i, args] of cases.entries()) {
      const b = `case${i}`;
      const a = await ots(`--repo=${ours}`, ...COMMIT, '-b', b, ...args);
      const o = await ostree(`--repo=${theirs}`, ...COMMIT, '-b', b, ...args);
      assert.equal(o.code, 0, `ostree ${args.join(' ')}: ${o.stderr}`);
      assert.equal(a.code, 0, `ostree-ts ${args.join(' ')}: ${a.stderr}`);
      assert.equal(a.stdout.trim(), o.stdout.trim(), `${mode}: ${args.join(' ')}`);
    }
  }
});

test('a layer may not turn a file into a directory or back, and unmatched override lines fail, as in ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await mkdir(path.join(a, 'x'), { recursive: true });
  await writeFile(path.join(a, 'x', 'f'), '1\n');
  await mkdir(b);
  await writeFile(path.join(b, 'x'), 'now a file\n');
  const repo = path.join(dir, 'repo');
  const theirs = path.join(dir, 'theirs');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ostree('init', `--repo=${theirs}`, '--mode=archive'));
  for (const [order, msg] of [[[a, b], /Can't replace directory with file: \/x/], [[b, a], /Can't replace file with directory: \/x/]] as const) {
    const args = [...COMMIT, '-b', 'c', ...order.map((d) => `--tree=dir=${d}`)];
    const r = await ots(`--repo=${repo}`, ...args);
    assert.equal(r.code, 1);
    assert.match(r.stderr, msg);
    assert.notEqual((await ostree(`--repo=${theirs}`, ...args)).code, 0, 'ostree refuses too');
  }
  const basic = await makeBasicTree(path.join(dir, 'basic'));
  const so = path.join(dir, 'so');
  await writeFile(so, '73 /no/such/file\n');
  const r = await ots(`--repo=${repo}`, ...COMMIT, '-b', 'c', `--tree=dir=${basic}`, `--statoverride=${so}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Unmatched statoverride paths: \/no\/such\/file/);
  assert.notEqual((await ostree(`--repo=${theirs}`, ...COMMIT, '-b', 'c', `--tree=dir=${basic}`, `--statoverride=${so}`)).code, 0);
  const sl = path.join(dir, 'sl');
  await writeFile(sl, '/missing\n');
  const r2 = await ots(`--repo=${repo}`, ...COMMIT, '-b', 'c', `--tree=dir=${basic}`, `--skip-list=${sl}`);
  assert.match(r2.stderr, /Unmatched skip-list paths: \/missing/);
  assert.equal(await ok(ots(`--repo=${repo}`, 'refs')), '');
});
