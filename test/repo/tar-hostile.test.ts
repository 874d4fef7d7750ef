/**
 * Issue 3, acceptance 3: hostile archives are refused with an error naming
 * the entry, and nothing is written to refs or left in tmp/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { ok, ots, ostree, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { gnuTar, pythonTar, zstdFile } from '../helpers/archives.js';
import { makeRichTree } from '../helpers/trees.js';

async function refused(t: { name: string }, repo: string, args: string[], pattern: RegExp): Promise<string> {
  const r = await ots(`--repo=${repo}`, 'commit', '-b', 'victim', ...args);
  assert.equal(r.code, 1, `${t.name}: expected a refusal, got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern, `${t.name}: the message should name the entry`);
  assert.doesNotMatch(r.stderr, /unexpected failure|This is a bug/, `${t.name}: a coded error, not a crash`);
  assert.equal((await ok(ots(`--repo=${repo}`, 'refs'))), '', `${t.name}: no ref written`);
  // tmp/cache belongs to the repository layout (ostree init makes it too).
  assert.deepEqual((await readdir(path.join(repo, 'tmp'))).filter((n) => n !== 'cache'), [], `${t.name}: nothing left in tmp/`);
  assert.deepEqual(await readdir(path.join(repo, 'tmp', 'cache')), [], `${t.name}: nothing left in tmp/cache`);
  return r.stderr;
}

test('hostile tar entries are refused, naming the entry, leaving no ref and no staging files', async (t) => {
  if (!(await requireTool(t, 'python3', 'python3'))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare-user'));
  const cases: Array<{ name: string; entries: Parameters<typeof pythonTar>[1]; pattern: RegExp }> = [
    { name: 'dotdot', entries: [{ name: './', type: 'dir' }, { name: 'a/../../evil', type: 'file', data: 'x' }], pattern: /"a\/\.\.\/\.\.\/evil".*'\.\.'/ },
    { name: 'absolute', entries: [{ name: './', type: 'dir' }, { name: '/etc/passwd', type: 'file', data: 'root::0:0::/:/bin/sh\n' }], pattern: /"\/etc\/passwd" has an absolute path/ },
    {
      name: 'through-symlink',
      entries: [{ name: './', type: 'dir' }, { name: 'etc', type: 'symlink', link: '/etc' }, { name: 'etc/passwd', type: 'file', data: 'x' }],
      pattern: /"etc\/passwd" would be written through \/etc, which is a symlink/,
    },
    {
      name: 'through-symlink-deeper',
      entries: [{ name: './', type: 'dir' }, { name: 'usr', type: 'dir' }, { name: 'usr/lib', type: 'symlink', link: '../../../../tmp' }, { name: 'usr/lib/x/y', type: 'file', data: 'x' }],
      pattern: /"usr\/lib\/x\/y" would be written through \/usr\/lib/,
    },
    { name: 'device', entries: [{ name: './', type: 'dir' }, { name: 'dev-null', type: 'chardev' }], pattern: /"dev-null" is a character device/ },
    { name: 'fifo', entries: [{ name: './', type: 'dir' }, { name: 'pipe', type: 'fifo' }], pattern: /"pipe" is a FIFO/ },
    { name: 'hardlink-escape', entries: [{ name: './', type: 'dir' }, { name: 'shadow', type: 'hardlink', link: '../../etc/shadow' }], pattern: /shadow.*'\.\.'/ },
  ];
  for (const c of cases) {
    const tar = await pythonTar(path.join(dir, `${c.name}.tar`), c.entries);
    await refused({ name: c.name }, repo, [`--tree=tar=${tar}`], c.pattern);
    // Even with parents created on demand.
    await refused({ name: `${c.name} (autocreate)` }, repo, [`--tree=tar=${tar}`, '--tar-autocreate-parents'], c.pattern);
  }
});

test('truncated archives: a declared size larger than the data, a cut header, a cut zstd stream', async (t) => {
  if (!(await requireTool(t, 'python3', 'python3'))) return;
  if (!(await requireTool(t, 'zstd', 'zstd'))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const big = 'B'.repeat(20000);
  const tar = await pythonTar(path.join(dir, 'whole.tar'), [{ name: './', type: 'dir' }, { name: 'small', type: 'file', data: 'ok\n' }, { name: 'big.bin', type: 'file', data: big }]);
  const whole = await readFile(tar);
  const bigHeader = whole.indexOf(Buffer.from('big.bin'));
  // The data of big.bin stops after 100 of its 20000 bytes.
  const shortData = path.join(dir, 'short-data.tar');
  await writeFile(shortData, whole.subarray(0, Math.ceil((bigHeader + 1) / 512) * 512 + 100));
  await refused({ name: 'short data' }, repo, [`--tree=tar=${shortData}`], /"big\.bin" declares 20000 bytes, but the stream ends after 100/);
  // The stream stops inside a header block.
  const cutHeader = path.join(dir, 'cut-header.tar');
  await writeFile(cutHeader, whole.subarray(0, 512 + 200));
  await refused({ name: 'cut header' }, repo, [`--tree=tar=${cutHeader}`], /truncated/);
  // The end-of-archive marker is missing.
  const noEnd = path.join(dir, 'no-end.tar');
  const end = Math.ceil((bigHeader + 1) / 512) * 512 + Math.ceil(20000 / 512) * 512;
  await writeFile(noEnd, whole.subarray(0, end));
  await refused({ name: 'no end marker' }, repo, [`--tree=tar=${noEnd}`], /without the end-of-archive marker/);
  // A zstd stream cut in half.
  const zst = await zstdFile(tar, path.join(dir, 'whole.tar.zst'));
  const size = (await stat(zst)).size;
  await truncate(zst, Math.floor(size / 2));
  await refused({ name: 'cut zstd' }, repo, [`--tree=tar=${zst}`], /corrupt or truncated|truncated/);
});

test('a zstd bomb is stopped at the --tar-max-size limit', async (t) => {
  if (!(await requireTool(t, 'zstd', 'zstd'))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare-user'));
  const tree = path.join(dir, 'tree');
  await ok(run('mkdir', ['-p', tree]));
  // 512 MiB of zeros (a sparse file) squeezes into a few kilobytes.
  await ok(run('truncate', ['-s', '512M', path.join(tree, 'zeros')]));
  const tar = path.join(dir, 'bomb.tar');
  await ok(run('tar', ['-C', tree, '-cf', tar, '.']));
  const bomb = await zstdFile(tar, path.join(dir, 'bomb.tar.zst'));
  assert.ok((await stat(bomb)).size < 1024 * 1024, 'the bomb is small');
  await run('rm', ['-f', tar]);
  const stderr = await refused({ name: 'bomb' }, repo, [`--tree=tar=${bomb}`, '--tar-max-size=64M'], /expands to more than 67108864 bytes/);
  assert.match(stderr, /bomb\.tar\.zst/);
});

test('a hostile layer after good ones leaves the repository as it was (fsck clean)', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'python3', 'python3'))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const good = await gnuTar(await makeRichTree(path.join(dir, 'tree')), path.join(dir, 'good.tar'));
  const bad = await pythonTar(path.join(dir, 'bad.tar'), [{ name: './', type: 'dir' }, { name: '../escape', type: 'file', data: 'x' }]);
  await refused({ name: 'layered' }, repo, [`--tree=tar=${good}`, `--tree=tar=${bad}`], /"\.\.\/escape"/);
  const f = await ostree('fsck', `--repo=${repo}`);
  assert.equal(f.code, 0, f.stderr);
  // An honest commit afterwards works.
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'good', `--tree=tar=${good}`));
});
