/**
 * Issue 2, acceptance 3: log, show, ls, cat, diff, refs and rev-parse give the
 * same information as ostree for the same repository (here: the same text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeRichTree, makeXattrTree } from '../helpers/trees.js';

async function history(dir: string, mode: string, writer: 'ots' | 'ostree'): Promise<string> {
  const tool = writer === 'ots' ? ots : ostree;
  const repo = path.join(dir, `${writer}-${mode}`);
  const tree = await makeRichTree(path.join(dir, `tree-${writer}-${mode}`));
  await makeXattrTree(path.join(tree, 'x'));
  await ok(tool('init', `--repo=${repo}`, `--mode=${mode}`));
  await ok(tool(`--repo=${repo}`, 'commit', '-b', 'os/main', `--tree=dir=${tree}`, '--timestamp=@1700000000', '-s', 'first',
    '-m', 'A body\nover two lines', '--add-metadata-string=version=1.0', '--add-metadata=count=uint64 7', '--add-metadata=flag=true'));
  await writeFile(path.join(tree, 'hello.txt'), 'changed\n');
  await writeFile(path.join(tree, 'added.txt'), 'new\n');
  await rm(path.join(tree, 'run.sh'));
  await rm(path.join(tree, 'sub', 'nested'), { recursive: true });
  await ok(tool(`--repo=${repo}`, 'commit', '-b', 'os/main', `--tree=dir=${tree}`, '--timestamp=@1700003600', '-s', 'second', '--add-metadata-string=version=1.1'));
  await ok(tool(`--repo=${repo}`, 'refs', '--create=os/stable', 'os/main^'));
  return repo;
}

const QUERIES: string[][] = [
  ['log', 'os/main'],
  ['log', 'os/stable'],
  ['show', 'os/main'],
  ['show', 'os/main^'],
  ['show', 'os/main^', '--print-metadata-key=version'],
  ['show', 'os/main^', '--print-metadata-key=count'],
  ['show', 'os/main^', '--print-metadata-key=flag'],
  ['show', 'os/main', '--print-metadata-key=ostree.ref-binding'],
  ['ls', 'os/main'],
  ['ls', '-R', 'os/main'],
  ['ls', '-RX', 'os/main^'],
  ['ls', '-RC', 'os/main^'],
  ['ls', 'os/main^', '/sub', '/hello.txt'],
  ['ls', '-X', 'os/main^', '/x/attr.txt', '/x/xdir'],
  ['cat', 'os/main^', '/hello.txt'],
  ['cat', 'os/main', '/hello.txt', '/added.txt'],
  ['diff', 'os/main^', 'os/main'],
  ['diff', 'os/main', 'os/main^'],
  ['refs'],
  ['refs', 'os'],
  ['rev-parse', 'os/main'],
  ['rev-parse', 'os/main^'],
  ['rev-parse', 'os/stable'],
];

for (const writer of ['ostree', 'ots'] as const) {
  test(`inspection commands print what ostree prints, on a repository written by ${writer}`, async (t) => {
    if (!(await requireOstree(t))) return;
    const dir = await tempDir(t);
    for (const mode of ['archive', 'bare']) {
      const repo = await history(dir, mode, writer);
      for (const q of QUERIES) {
        const theirs = await ostree(`--repo=${repo}`, ...q);
        const ours = await ots(`--repo=${repo}`, ...q);
        assert.equal(theirs.code, 0, `ostree ${q.join(' ')}: ${theirs.stderr}`);
        assert.equal(ours.code, 0, `ostree-ts ${q.join(' ')}: ${ours.stderr}`);
        // ostree lists refs below a prefix in hash-table order; compare those as sets.
        const norm = (o: string): string => (q[0] === 'refs' && q.length > 1 ? o.split('\n').sort().join('\n') : o);
        assert.equal(norm(ours.stdout), norm(theirs.stdout), `${q.join(' ')} (${mode})`);
      }
      const csum = await ok(ostree(`--repo=${repo}`, 'rev-parse', 'os/main'));
      assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', csum.slice(0, 10))), csum, 'a checksum prefix resolves');
      // Failures agree too: both exit 1 and name the thing.
      for (const q of [['rev-parse', 'nope'], ['show', 'os/main', '--print-metadata-key=nope'], ['ls', 'os/main', '/nope'], ['cat', 'os/main', '/sub']]) {
        const ours = await ots(`--repo=${repo}`, ...q);
        const theirs = await ostree(`--repo=${repo}`, ...q);
        assert.equal(theirs.code, 1, q.join(' '));
        assert.equal(ours.code, 1, q.join(' '));
        assert.match(ours.stderr, /^error: .*(nope|sub)/, q.join(' '));
      }
    }
  });
}

test('refs --create and --delete, and config get/set, match ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeRichTree(path.join(dir, 'tree'));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const c = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'a/b', `--tree=dir=${tree}`));
  // Ref names that are not hex: ostree reads a bare hex name like 'd' as a checksum prefix first.
  await ok(ots(`--repo=${repo}`, 'refs', '--create=ref-c', 'a/b'));
  assert.equal(await ok(ostree(`--repo=${repo}`, 'rev-parse', 'ref-c')), c);
  await ok(ostree(`--repo=${repo}`, 'refs', '--create=ref-d', 'a/b'));
  // Both list refs in ostree's hash-table order.
  assert.equal(await ok(ots(`--repo=${repo}`, 'refs')), await ok(ostree(`--repo=${repo}`, 'refs')));
  assert.deepEqual((await ok(ots(`--repo=${repo}`, 'refs'))).split('\n').sort(), ['a/b', 'ref-c', 'ref-d']);
  await ok(ots(`--repo=${repo}`, 'refs', '--delete', 'ref-c'));
  // ostree lists refs in hash-table order.
  assert.deepEqual((await ok(ostree(`--repo=${repo}`, 'refs'))).split('\n').sort(), ['a/b', 'ref-d']);
  const dup = await ots(`--repo=${repo}`, 'refs', '--create=ref-d', 'a/b');
  assert.equal(dup.code, 1);
  await ok(ots(`--repo=${repo}`, 'config', 'set', 'core.fsync', 'false'));
  await ok(ots(`--repo=${repo}`, 'config', 'set', 'archive.zlib-level', '3'));
  assert.equal(await ok(ostree(`--repo=${repo}`, 'config', 'get', 'core.fsync')), 'false');
  assert.equal(await ok(ostree(`--repo=${repo}`, 'config', 'get', 'archive.zlib-level')), '3');
  assert.equal(await ok(ots(`--repo=${repo}`, 'config', 'get', 'core.mode')), 'archive-z2');
  const missing = await ots(`--repo=${repo}`, 'config', 'get', 'core.nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not have key “nope” in group “core”/);
  // A commit with zlib level 3 is still readable by ostree; without a subject, log and show agree too.
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'z', `--tree=dir=${tree}`));
  for (const q of [['log', 'z'], ['show', 'z']]) {
    assert.equal((await ots(`--repo=${repo}`, ...q)).stdout, (await ostree(`--repo=${repo}`, ...q)).stdout, q.join(' '));
  }
  assert.equal((await ostree('fsck', `--repo=${repo}`)).code, 0);
});
