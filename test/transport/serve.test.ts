/**
 * Issue 5 (first part): `ostree-ts serve` publishes an archive repository
 * over HTTP on loopback; the real ostree pulls from it and its fsck is clean.
 * Byte ranges work; nothing outside the repository is served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { makeRichTree, makeXattrTree } from '../helpers/trees.js';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the real ostree pulls from ostree-ts serve; ranges work; paths cannot leave the repository', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'tree');
  await makeRichTree(src);
  await makeXattrTree(path.join(src, 'x'));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const checksum = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os/stable', `--tree=dir=${src}`, '--add-metadata-string=version=1'));
  await ok(ots(`--repo=${repo}`, 'summary', '-u'));
  const log = path.join(dir, 'access.log');
  const { url: base } = await serveRepo(t, repo, dir, log);
  const config = await get(`${base}config`);
  assert.equal(config.status, 200);
  assert.equal(config.body.toString(), await readFile(path.join(repo, 'config'), 'utf8'));
  const part = await get(`${base}config`, { Range: 'bytes=2-5' });
  assert.equal(part.status, 206);
  assert.equal(part.body.toString(), (await readFile(path.join(repo, 'config'), 'utf8')).slice(2, 6));
  assert.equal((await get(`${base}config`, { Range: 'bytes=9999-' })).status, 416);
  assert.equal((await get(`${base}nope`)).status, 404);
  assert.equal((await get(`${base}%2e%2e/%2e%2e/etc/passwd`)).status, 404);
  assert.equal((await get(`${base}objects/`)).status, 404, 'no directory listings');
  for (const mode of ['bare-user', 'archive'] as const) {
    const theirs = path.join(dir, `theirs-${mode}`);
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    await ok(ostree(`--repo=${theirs}`, 'remote', 'add', '--no-gpg-verify', 'origin', base));
    await ok(ostree(`--repo=${theirs}`, 'pull', 'origin', 'os/stable'), `ostree pull into ${mode}`);
    assert.equal(await ok(ostree(`--repo=${theirs}`, 'rev-parse', 'origin:os/stable')), checksum);
    const f = await ostree('fsck', `--repo=${theirs}`);
    assert.equal(f.code, 0, f.stderr);
  }
  assert.match(await readFile(log, 'utf8'), /GET \/summary 200/);
});

test('serve follows no symbolic link out of the repository, at any level', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const outside = path.join(dir, 'outside');
  await mkdir(path.join(outside, 'sub'), { recursive: true });
  await writeFile(path.join(outside, 'secret'), 'not for the web\n');
  await writeFile(path.join(outside, 'sub', 'deep'), 'nor this\n');
  await writeFile(path.join(repo, 'inside.txt'), 'fine\n');
  // Links out: at the top, as a directory, below a fan-out directory, relative, through two hops.
  await symlink(path.join(outside, 'secret'), path.join(repo, 'leak'));
  await symlink('/etc', path.join(repo, 'objects', 'zz'));
  await symlink(outside, path.join(repo, 'objects', 'yy'));
  await mkdir(path.join(repo, 'objects', 'ab'), { recursive: true });
  await symlink(path.join(outside, 'secret'), path.join(repo, 'objects', 'ab', 'cdef.filez'));
  await symlink('../../../outside/secret', path.join(repo, 'refs', 'heads', 'rel'));
  await symlink('leak', path.join(repo, 'hop'));
  // Links that stay inside are served (a summary kept under another name, say).
  await symlink('inside.txt', path.join(repo, 'alias'));
  await symlink('../inside.txt', path.join(repo, 'refs', 'up'));
  const { url: base } = await serveRepo(t, repo, dir);
  for (const p of ['leak', 'objects/zz/passwd', 'objects/zz/hostname', 'objects/yy/secret', 'objects/yy/sub/deep', 'objects/ab/cdef.filez', 'refs/heads/rel', 'hop']) {
    const r = await get(`${base}${p}`);
    assert.equal(r.status, 404, `${p} is not served`);
    assert.doesNotMatch(r.body.toString(), /not for the web|nor this|root:/, p);
  }
  for (const p of ['alias', 'refs/up', 'inside.txt']) {
    const r = await get(`${base}${p}`);
    assert.equal(r.status, 200, `${p} is served`);
    assert.equal(r.body.toString(), 'fine\n');
  }
  // The repository itself may be reached through a link.
  const linked = path.join(dir, 'linked');
  await symlink(repo, linked);
  const { url: viaLink } = await serveRepo(t, linked, dir);
  assert.equal((await get(`${viaLink}inside.txt`)).status, 200);
  assert.equal((await get(`${viaLink}leak`)).status, 404);
});
