/**
 * Objects over the spool limit (4 MiB compressed) are written to a file as
 * they arrive and checked while streamed, never held whole: pulled intact
 * into bare-user and archive repositories, refused by name when a byte is
 * flipped, and no spool file is left behind either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';

test('large objects: streamed and verified, refused when damaged, no spool left behind', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(tree, { recursive: true });
  // Incompressible, so the served .filez is as large as the file.
  const big = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 32) createHash('sha256').update(`block ${i}`).digest().copy(big, i);
  await writeFile(path.join(tree, 'big.bin'), big);
  await writeFile(path.join(tree, 'small'), 'small\n');
  const upstream = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${upstream}`, '--mode=archive'));
  const checksum = await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ostree(`--repo=${upstream}`, 'summary', '-u'));
  const ls = await ok(ostree(`--repo=${upstream}`, 'ls', '-C', 'os', '/big.bin'));
  const bigSum = ls.split(/\s+/).find((w) => /^[0-9a-f]{64}$/.test(w)) as string;
  const bigObj = path.join(upstream, 'objects', bigSum.slice(0, 2), `${bigSum.slice(2)}.filez`);
  assert.ok((await readFile(bigObj)).length > 4 * 1024 * 1024, 'the served object is over the spool limit');

  const hostile = path.join(dir, 'hostile');
  await ok(run('cp', ['-a', upstream, hostile]));
  const flipped = await readFile(bigObj);
  flipped[flipped.length - 100_000] ^= 0x01;
  await writeFile(path.join(hostile, 'objects', bigSum.slice(0, 2), `${bigSum.slice(2)}.filez`), flipped);
  const good = await serveRepo(t, upstream, dir);
  const bad = await serveRepo(t, hostile, dir);

  const tmpFiles = async (repo: string): Promise<string[]> => (await readdir(path.join(repo, 'tmp'))).filter((n) => n !== 'cache');
  for (const mode of ['bare-user', 'archive'] as const) {
    const repo = path.join(dir, `client-${mode}`);
    await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
    await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'bad', bad.url));
    await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'good', good.url));
    const r = await ots(`--repo=${repo}`, 'pull', 'bad', 'os');
    assert.equal(r.code, 1, `${mode}: the damaged object is refused`);
    assert.match(r.stderr, new RegExp(`bad file object ${bigSum}: its content does not match its name`));
    assert.deepEqual(await tmpFiles(repo), [], `${mode}: nothing left in tmp/`);
    assert.equal(await ok(ots(`--repo=${repo}`, 'refs')), '');
    await ok(ots(`--repo=${repo}`, 'pull', 'good', 'os'));
    assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'good:os')), checksum);
    assert.deepEqual(await tmpFiles(repo), [], `${mode}: nothing left in tmp/ after the pull`);
    const f = await ostree('fsck', `--repo=${repo}`);
    assert.equal(f.code, 0, f.stderr);
    if (mode === 'archive') {
      const stored = await readFile(path.join(repo, 'objects', bigSum.slice(0, 2), `${bigSum.slice(2)}.filez`));
      assert.ok(stored.equals(await readFile(bigObj)), 'an archive repository keeps the object as served');
    } else {
      const out = path.join(dir, 'co');
      await ok(ots(`--repo=${repo}`, 'checkout', '-U', 'good:os', out));
      assert.ok((await readFile(path.join(out, 'big.bin'))).equals(big));
    }
  }
});
