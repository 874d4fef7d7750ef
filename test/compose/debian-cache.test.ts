/**
 * The cached Debian tree (mmdebstrap's output, kept as a directory by a key
 * of its inputs) is laid into the staged tree by hard links when nothing can
 * write into its files, by a copy when postprocess scripts run. Either way
 * the cache is left exactly as it was, and both give the same commit.
 *
 * The cache is made here by hand under the key of the recipe's inputs, so
 * mmdebstrap never runs and the recipe's mirror (a closed loopback port) is
 * never contacted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile, lchown } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, requireOstree, requireRoot, tempDir } from '../helpers/env.js';
import { composeOk, fsckClean, newRepo } from './helpers.js';
import { debianCacheKey, fileRecipeReader, loadRecipe } from '../../src/compose/index.js';

const REF = 'test/debian-cached';
const KVER = '6.1.0-9-amd64';

function recipe(extra: string): string {
  return `ref: ${REF}
version: "1"
timestamp: 2024-06-01T00:00:00Z
base:
  debian:
    suite: bookworm
    variant: minbase
    mirror: http://127.0.0.1:9/debian
files:
  - path: /etc/hostname
    content: "composed\\n"
remove:
  - /var/log/**
${extra}`;
}

async function makeCachedTree(root: string): Promise<void> {
  for (const d of ['etc', 'boot', 'usr', 'usr/bin', 'var', 'var/log', 'var/lib', 'var/lib/state', 'secret']) await mkdir(path.join(root, d));
  await writeFile(path.join(root, 'etc/hostname'), 'debian\n');
  await writeFile(path.join(root, 'etc/app.conf'), 'setting=1\n');
  await writeFile(path.join(root, 'var/log/syslog'), 'log line\n');
  await writeFile(path.join(root, 'var/lib/state/data'), 'state\n');
  await writeFile(path.join(root, `boot/vmlinuz-${KVER}`), 'kernel image\n');
  await writeFile(path.join(root, `boot/initrd.img-${KVER}`), 'initramfs image\n');
  await symlink(`boot/vmlinuz-${KVER}`, path.join(root, 'vmlinuz'));
  await writeFile(path.join(root, 'usr/bin/app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
  await link(path.join(root, 'usr/bin/app'), path.join(root, 'usr/bin/app-alias'));
  await writeFile(path.join(root, 'secret/key'), 'k\n', { mode: 0o600 });
  await chmod(path.join(root, 'secret'), 0o700);
  await lchown(path.join(root, 'secret'), 5, 6);
  await lchown(path.join(root, 'secret/key'), 5, 6);
}

/** Every entry of a tree: type, mode, owner, and content or target. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const n of (await readdir(path.join(root, rel))).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const p = path.join(root, r);
      const st = await lstat(p);
      const what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `-> ${await readlink(p)}`
        : createHash('sha256').update(await readFile(p)).digest('hex');
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

test('a cached Debian tree is laid out by hard links (or copied for postprocess) and left unchanged', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree')) return;
  const dir = await tempDir(t, 'ots-compose-debian-cache-');
  const linked = path.join(dir, 'linked.yaml');
  const copied = path.join(dir, 'copied.yaml');
  await writeFile(linked, recipe(''));
  // A script that writes into a file of the tree: it must not reach the cache.
  await writeFile(copied, recipe('postprocess:\n  - name: append\n    script: echo setting=2 >> "$TREE/etc/app.conf"\n'));
  const r = await loadRecipe(linked, fileRecipeReader());
  assert.equal(r.base.kind, 'debian');
  if (r.base.kind !== 'debian') return;
  const cache = path.join(dir, 'cache');
  const tree = path.join(cache, `debian-bookworm-${debianCacheKey(r.base, 'http://127.0.0.1:9/debian')}`);
  await mkdir(tree, { recursive: true });
  await makeCachedTree(tree);
  const before = await snapshot(tree);

  const repo = await newRepo(dir, 'repo');
  const env = { OSTREE_TS_CACHE_DIR: cache };
  const first = await composeOk(linked, repo, [], env);
  assert.match(first.out.stdout, /the cached mmdebstrap output debian-bookworm-/);
  assert.deepEqual(await snapshot(tree), before, 'the cached tree is unchanged after a compose by hard links');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, '/usr/etc/hostname')), 'composed');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, `/usr/lib/modules/${KVER}/vmlinuz`)), 'kernel image');
  const secret = await ok(ostree('ls', `--repo=${repo}`, REF, '/secret', '/secret/key'));
  assert.match(secret, /^d00700 5 6 .* \/secret$/m, 'a directory keeps its mode and owner');
  assert.match(secret, /^-00600 5 6 .* \/secret\/key$/m, 'a file keeps its mode and owner');
  const varConf = await ok(ostree('cat', `--repo=${repo}`, REF, '/usr/lib/tmpfiles.d/ostree-ts-compose-var.conf'));
  assert.match(varConf, /^C \/var\/lib\/state\/data /m);
  assert.doesNotMatch(varConf, /syslog/, 'the removed /var/log content is not recreated');

  const again = await composeOk(linked, await newRepo(dir, 'repo-again'), [], env);
  assert.equal(again.checksum, first.checksum, 'the same inputs give the same commit');

  const post = await composeOk(copied, await newRepo(dir, 'repo-copied'), [], env);
  assert.deepEqual(await snapshot(tree), before, 'the cached tree is unchanged after a postprocess wrote into a file');
  assert.equal(await ok(ostree('cat', `--repo=${path.join(dir, 'repo-copied')}`, REF, '/usr/etc/app.conf')), 'setting=1\nsetting=2');
  assert.notEqual(post.checksum, first.checksum);
  await fsckClean(repo);
});

test('hard links and a copy of the cached tree give the same commit', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree')) return;
  const dir = await tempDir(t, 'ots-compose-debian-same-');
  const linked = path.join(dir, 'linked.yaml');
  const copied = path.join(dir, 'copied.yaml');
  await writeFile(linked, recipe(''));
  // A postprocess that changes nothing: the tree is copied, and must commit the same.
  await writeFile(copied, recipe('postprocess:\n  - name: nothing\n    script: "true"\n'));
  const r = await loadRecipe(linked, fileRecipeReader());
  if (r.base.kind !== 'debian') throw new Error('a debian base');
  const cache = path.join(dir, 'cache');
  const tree = path.join(cache, `debian-bookworm-${debianCacheKey(r.base, 'http://127.0.0.1:9/debian')}`);
  await mkdir(tree, { recursive: true });
  await makeCachedTree(tree);
  const env = { OSTREE_TS_CACHE_DIR: cache };
  const a = await composeOk(linked, await newRepo(dir, 'a'), [], env);
  const b = await composeOk(copied, await newRepo(dir, 'b'), [], env);
  assert.equal(b.checksum, a.checksum);
});
