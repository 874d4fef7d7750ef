/**
 * Issue 3, acceptance 1: the same tarball committed by `ostree commit
 * --tree=tar=` and by ostree-ts gives the same commit, for fixtures with
 * hardlinks, xattrs (security.capability included) and non-root owners, in
 * every mode; gzip and zstd compression (detected by content) change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { copyFile } from 'node:fs/promises';
import { MODES, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { makeBasicTree, makeOwnedTree, makeRichTree, makeXattrTree } from '../helpers/trees.js';
import { gnuTar, gzipFile, makeHardlinkTree, zstdFile } from '../helpers/archives.js';

const FIXTURES: Array<[string, (root: string) => Promise<string>]> = [
  ['basic', makeBasicTree],
  ['rich', makeRichTree],
  ['xattrs', makeXattrTree],
  ['owned', makeOwnedTree],
  ['hardlinks', makeHardlinkTree],
];

const COMMIT = ['commit', '-b', 'os/tar', '--timestamp=@1700000000', '-s', 'from tar'];

test('tarballs commit to the same checksum as ostree --tree=tar=, in every mode and compression', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'zstd', 'zstd'))) return;
  const dir = await tempDir(t);
  for (const [name, make] of FIXTURES) {
    const tree = await make(path.join(dir, `tree-${name}`));
    const tar = await gnuTar(tree, path.join(dir, `${name}.tar`));
    const gz = await gzipFile(tar, path.join(dir, `${name}.tar.gz`));
    const zst = await zstdFile(tar, path.join(dir, `${name}.tar.zst`));
    // Compression is found from the bytes, not the name.
    const disguised = path.join(dir, `${name}-zstd.tar`);
    await copyFile(zst, disguised);
    for (const mode of MODES) {
      const theirs = path.join(dir, `ostree-${name}-${mode}`);
      await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
      const expected = await ostree(`--repo=${theirs}`, ...COMMIT, `--tree=tar=${gz}`);
      for (const input of [tar, gz, zst, disguised]) {
        const ours = path.join(dir, `ots-${name}-${mode}-${path.basename(input)}`);
        await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
        const got = await ots(`--repo=${ours}`, ...COMMIT, `--tree=tar=${input}`);
        if (expected.code !== 0) {
          // Both refuse (a bare-user-only repository cannot hold setuid files).
          assert.notEqual(got.code, 0, `${name}/${mode}/${path.basename(input)}: ostree refused (${expected.stderr.trim()}) but we committed`);
          continue;
        }
        assert.equal(got.code, 0, `${name}/${mode}/${path.basename(input)}: ${got.stderr}`);
        assert.equal(got.stdout.trim(), expected.stdout.trim(), `${name} in ${mode} from ${path.basename(input)}`);
        if (input === zst && (mode === 'archive' || mode === 'bare-user')) {
          const f = await ostree('fsck', `--repo=${ours}`);
          assert.equal(f.code, 0, `ostree fsck on ${ours}:\n${f.stderr}`);
        }
        await run('rm', ['-rf', ours]);
      }
      await run('rm', ['-rf', theirs]);
    }
  }
});

test('hard links in a tar share one content object', async (t) => {
  const dir = await tempDir(t);
  const tree = await makeHardlinkTree(path.join(dir, 'tree'));
  const tar = await gnuTar(tree, path.join(dir, 'h.tar'));
  const listing = await ok(run('tar', ['-tvf', tar]));
  assert.match(listing, /link to/, 'GNU tar recorded hard links');
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, ...COMMIT, `--tree=tar=${tar}`));
  const ls = (await ok(ots(`--repo=${repo}`, 'ls', '-R', '--json', 'os/tar'))).split('\n').map((l) => JSON.parse(l) as { path: string; checksum: string });
  const sums = ['/a/orig', '/a/b/same', '/c/again'].map((p) => ls.find((e) => e.path === p)?.checksum);
  assert.ok(sums[0], 'the first name is committed');
  assert.deepEqual(sums, [sums[0], sums[0], sums[0]]);
  const out = path.join(dir, 'out');
  await ok(ots(`--repo=${repo}`, 'checkout', '-U', 'os/tar', out));
  await ok(run('cmp', [path.join(tree, 'a', 'orig'), path.join(out, 'c', 'again')]));
});

test('tar options: --tar-autocreate-parents and --tar-pathname-filter as ostree spells them', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  // No directory entries at all: only files, deep inside.
  const tar = path.join(dir, 'files-only.tar');
  await ok(run('tar', ['--numeric-owner', '--no-recursion', '-C', tree, '-cf', tar, 'hello.txt', 'sub/nested/deep.txt', 'run.sh']));
  const cases: string[][] = [
    ['--tar-autocreate-parents'],
    ['--tar-autocreate-parents', '--tar-pathname-filter=^sub/,usr/lib/'],
    ['--tar-autocreate-parents', '--tar-pathname-filter=^(.*)\\.txt$,\\1.text'],
  ];
  for (const extra of cases) {
    const ours = path.join(dir, 'ours');
    const theirs = path.join(dir, 'theirs');
    await ok(ots('init', `--repo=${ours}`, '--mode=archive'));
    await ok(ostree('init', `--repo=${theirs}`, '--mode=archive'));
    const a = await ok(ots(`--repo=${ours}`, ...COMMIT, `--tree=tar=${tar}`, ...extra), `ostree-ts ${extra.join(' ')}`);
    const b = await ok(ostree(`--repo=${theirs}`, ...COMMIT, `--tree=tar=${tar}`, ...extra), `ostree ${extra.join(' ')}`);
    assert.equal(a, b, extra.join(' '));
    await run('rm', ['-rf', ours, theirs]);
  }
  // Without autocreation both refuse.
  const repo = path.join(dir, 'plain');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const r = await ots(`--repo=${repo}`, ...COMMIT, `--tree=tar=${tar}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sub\/nested\/deep\.txt/);
  assert.match(r.stderr, /\nhint: pass --tar-autocreate-parents\b/);
});
