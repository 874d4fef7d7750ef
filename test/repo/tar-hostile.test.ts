/**
 * Issue 3, acceptance 3: hostile archives are refused with an error naming
 * the entry, and nothing is written to refs or left in tmp/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { ROOT, ok, ots, ostree, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
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

test('extended headers piling up before one entry, GNU sparse files, and a slow first chunk', async (t) => {
  if (!(await requireTool(t, 'zstd', 'zstd'))) return;
  const { encodeTarHeader, tarPadding, tarTrailer } = await import('../../src/io/index.js');
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  // Three extended headers of 900 KB each (each under the limit), then the entry they all describe.
  const big = { path: 'f', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 1, mtime: 0, xattrs: [{ name: 'user.pad', value: Buffer.alloc(900 * 1024, 0x61) }] };
  const one = encodeTarHeader(big);
  const paxOnly = one.subarray(0, one.length - 512);
  const root = encodeTarHeader({ path: './', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
  const piled = path.join(dir, 'piled.tar');
  await writeFile(piled, Buffer.concat([root, paxOnly, paxOnly, one, Buffer.from('x'), tarPadding(1), tarTrailer()]));
  await refused({ name: 'piled PAX' }, repo, [`--tree=tar=${piled}`], /extended headers of \d+ bytes for one entry/);
  // A GNU sparse file is refused rather than committed as its hole map.
  const tree = path.join(dir, 'sparse');
  await ok(run('mkdir', ['-p', tree]));
  await ok(run('sh', ['-c', 'truncate -s 4M "$1/hole" && printf x >> "$1/hole"', 'sh', tree]));
  const sparse = path.join(dir, 'sparse.tar');
  await ok(run('tar', ['--sparse', '--format=posix', '-C', tree, '-cf', sparse, '.']));
  await refused({ name: 'sparse' }, repo, [`--tree=tar=${sparse}`], /GNU sparse file/);
  // A gzip stream whose first read is a single byte is still recognised.
  const basic = path.join(dir, 'basic');
  await ok(run('mkdir', ['-p', basic]));
  await writeFile(path.join(basic, 'f'), 'f\n');
  const gz = path.join(dir, 'basic.tar.gz');
  await ok(run('tar', ['-C', basic, '-czf', gz, '.']));
  const expected = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'whole', '--no-bindings', '--timestamp=@1', `--tree=tar=${gz}`));
  const cli = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const slow = await ok(run('sh', ['-c', '(head -c1 "$1"; sleep 0.3; tail -c +2 "$1") | node "$2" --repo="$3" commit -b slow --no-bindings --timestamp=@1 --tree=tar=-', 'sh', gz, cli, repo]));
  assert.equal(slow, expected);
});

test('--skip-list can leave device nodes out of an archive, as in ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'python3', 'python3'))) return;
  const dir = await tempDir(t);
  const tar = await pythonTar(path.join(dir, 'dev.tar'), [{ name: './', type: 'dir' }, { name: 'dev', type: 'dir' }, { name: 'dev/null', type: 'chardev' }, { name: 'etc', type: 'dir' }, { name: 'etc/motd', type: 'file', data: 'hi\n' }]);
  const skip = path.join(dir, 'skip');
  await writeFile(skip, '/dev/null\n');
  const ours = path.join(dir, 'ours');
  const theirs = path.join(dir, 'theirs');
  await ok(ots('init', `--repo=${ours}`, '--mode=archive'));
  await ok(ostree('init', `--repo=${theirs}`, '--mode=archive'));
  const args = ['commit', '-b', 'x', '--timestamp=@1', `--tree=tar=${tar}`, `--skip-list=${skip}`];
  assert.equal(await ok(ots(`--repo=${ours}`, ...args)), await ok(ostree(`--repo=${theirs}`, ...args)));
});

test('a header whose base-256 size or owner is beyond 2^53 (or negative) is refused as corrupt, not a crash', async (t) => {
  if (!(await requireTool(t, 'python3', 'python3'))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const tar = await pythonTar(path.join(dir, 'one.tar'), [{ name: 'f', type: 'file', data: 'hello\n' }]);
  const whole = await readFile(tar);
  /** The archive with header field [at, at+len) replaced by `value`, and the header checksum made right again. */
  const patched = async (name: string, at: number, value: Buffer): Promise<string> => {
    const b = Buffer.from(whole);
    value.copy(b, at);
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += b[i];
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const out = path.join(dir, name);
    await writeFile(out, b);
    return out;
  };
  const base256 = (n: bigint, len: number): Buffer => {
    const b = Buffer.alloc(len);
    b[0] = 0x80;
    for (let i = len - 1; i > 0 && n > 0n; i--, n >>= 8n) b[i] = Number(n & 0xffn);
    return b;
  };
  await refused({ name: 'huge size' }, repo, ['--tar-autocreate-parents', `--tree=tar=${await patched('huge-size.tar', 124, base256(2n ** 60n, 12))}`], /corrupt header block at byte 0/);
  await refused({ name: 'huge uid' }, repo, ['--tar-autocreate-parents', `--tree=tar=${await patched('huge-uid.tar', 108, base256(2n ** 54n, 8))}`], /corrupt header block at byte 0/);
  await refused({ name: 'negative size' }, repo, ['--tar-autocreate-parents', `--tree=tar=${await patched('negative-size.tar', 124, Buffer.alloc(12, 0xff))}`], /corrupt header block at byte 0/);
});
