/**
 * The cached Debian tree (mmdebstrap's output, kept as a directory by a key
 * of its inputs) is committed in place, with the recipe's changes staged
 * over it, when nothing needs the whole tree as a directory; it is copied
 * when postprocess scripts run. Either way the cache is left exactly as it
 * was, and both give the same commit: files written into directories of the
 * cached tree, removals, moves (/etc, /var, the kernel), special files and
 * directories with their own modes, owners and extended attributes.
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
import { ok, ostree, requireOstree, requireRoot, run, tempDir } from '../helpers/env.js';
import { composeOk, fsckClean, newRepo } from './helpers.js';
import { smallFs } from '../helpers/small-fs.js';
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
  - path: /etc/ssl/private/added.pem
    content: "added\\n"
    mode: "0600"
  - path: /secret/added
    content: "added\\n"
remove:
  - /var/log/**
  - /etc/obsolete.conf
checks:
  - name: 10-up
    script: "true"
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
  await writeFile(path.join(root, 'etc/obsolete.conf'), 'old\n');
  await mkdir(path.join(root, 'etc/ssl/private'), { recursive: true });
  await writeFile(path.join(root, 'etc/ssl/private/key.pem'), 'key\n', { mode: 0o600 });
  await chmod(path.join(root, 'etc/ssl/private'), 0o710);
  await lchown(path.join(root, 'etc/ssl/private'), 0, 7);
  await ok(run('setfattr', ['-n', 'user.ostree-ts-test', '-v', 'ssl', path.join(root, 'etc/ssl')]), 'setfattr');
  // A set-group-ID directory (its group and that bit pass to what is made in it) with a directory inside.
  await mkdir(path.join(root, 'var/mail'));
  await lchown(path.join(root, 'var/mail'), 0, 8);
  await chmod(path.join(root, 'var/mail'), 0o2775);
  await mkdir(path.join(root, 'var/mail/box'));
  await writeFile(path.join(root, 'var/mail/box/root'), 'mail\n');
  await symlink('/run', path.join(root, 'var/run'));
  for (const d of ['tmp', 'run', 'run/lock', 'dev']) await mkdir(path.join(root, d));
  await writeFile(path.join(root, 'tmp/junk'), 'junk\n');
  await writeFile(path.join(root, 'run/lock/pid'), '1\n');
  await ok(run('mkfifo', [path.join(root, 'dev/initctl')]), 'mkfifo');
}

/** The cached tree for `recipeFile`'s Debian base, made by hand in `cache` under the key of its inputs. */
async function cachedTreeFor(recipeFile: string, cache: string): Promise<string> {
  const r = await loadRecipe(recipeFile, fileRecipeReader());
  if (r.base.kind !== 'debian') throw new Error(`${recipeFile}: a debian base`);
  const tree = path.join(cache, `debian-bookworm-${debianCacheKey(r.base, 'http://127.0.0.1:9/debian')}`);
  await mkdir(tree, { recursive: true });
  await makeCachedTree(tree);
  return tree;
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
        : st.isFile() ? createHash('sha256').update(await readFile(p)).digest('hex') : 'special';
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

test('a cached Debian tree is committed in place (or copied for postprocess) and left unchanged', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree')) return;
  const dir = await tempDir(t, 'ots-compose-debian-cache-');
  const linked = path.join(dir, 'linked.yaml');
  const copied = path.join(dir, 'copied.yaml');
  await writeFile(linked, recipe(''));
  // A script that writes into a file of the tree: it must not reach the cache.
  await writeFile(copied, recipe('postprocess:\n  - name: append\n    script: echo setting=2 >> "$TREE/etc/app.conf"\n'));
  const cache = path.join(dir, 'cache');
  const tree = await cachedTreeFor(linked, cache);
  const before = await snapshot(tree);

  const repo = await newRepo(dir, 'repo');
  const env = { OSTREE_TS_CACHE_DIR: cache };
  const first = await composeOk(linked, repo, [], env);
  assert.match(first.out.stdout, /the cached mmdebstrap output debian-bookworm-/);
  assert.match(first.out.stdout, /committed in place, with the changes staged over it/);
  assert.deepEqual(await snapshot(tree), before, 'the cached tree is unchanged after a compose over it');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, '/usr/etc/hostname')), 'composed');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, `/usr/lib/modules/${KVER}/vmlinuz`)), 'kernel image');
  const secret = await ok(ostree('ls', `--repo=${repo}`, REF, '/secret', '/secret/key'));
  assert.match(secret, /^d00700 5 6 .* \/secret$/m, 'a directory keeps its mode and owner');
  assert.match(secret, /^-00600 5 6 .* \/secret\/key$/m, 'a file keeps its mode and owner');
  const ssl = await ok(ostree('ls', `--repo=${repo}`, '-X', '-d', REF, '/usr/etc/ssl', '/usr/etc/ssl/private', '/usr/etc/ssl/private/added.pem'));
  assert.match(ssl, /^d00755 0 0 .*b'user\.ostree-ts-test'.* \/usr\/etc\/ssl$/m, 'a directory keeps its extended attributes when a file is written below it');
  assert.match(ssl, /^d00710 0 7 .* \/usr\/etc\/ssl\/private$/m, 'a directory a file is written into keeps its mode and owner');
  assert.match(ssl, /^-00600 0 0 .* \/usr\/etc\/ssl\/private\/added\.pem$/m);
  assert.doesNotMatch(await ok(ostree('ls', `--repo=${repo}`, REF, '/usr/etc')), /obsolete/, 'a removed file is not brought back by the move of /etc');
  const gone = await ok(ostree('ls', `--repo=${repo}`, '-R', REF, '/'));
  for (const p of ['/dev/initctl', '/tmp/junk', '/run/lock', '/etc', '/var/mail', '/boot/vmlinuz-']) assert.ok(!gone.includes(` ${p}`), `${p} is not in the commit`);
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

test('the cached tree committed in place and a copy of it give the same commit', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree')) return;
  const dir = await tempDir(t, 'ots-compose-debian-same-');
  const linked = path.join(dir, 'linked.yaml');
  const copied = path.join(dir, 'copied.yaml');
  await writeFile(linked, recipe(''));
  // A postprocess that changes nothing: the tree is copied, and must commit the same as the tree committed in place.
  await writeFile(copied, recipe('postprocess:\n  - name: nothing\n    script: "true"\n'));
  const cache = path.join(dir, 'cache');
  await cachedTreeFor(linked, cache);
  const env = { OSTREE_TS_CACHE_DIR: cache };
  const a = await composeOk(linked, await newRepo(dir, 'a'), [], env);
  const b = await composeOk(copied, await newRepo(dir, 'b'), [], env);
  assert.equal(b.checksum, a.checksum);
});

test('a cached tree on another filesystem than the repository is committed in place the same (moved entries copied)', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree, and a tmpfs')) return;
  const dir = await tempDir(t, 'ots-compose-debian-exdev-');
  const other = await smallFs(t, '64m');
  if (!other) return;
  const file = path.join(dir, 'recipe.yaml');
  await writeFile(file, recipe(''));
  const here = path.join(dir, 'cache');
  const there = path.join(other.dir, 'cache');
  await cachedTreeFor(file, here);
  const treeThere = await cachedTreeFor(file, there);
  const before = await snapshot(treeThere);
  const same = await composeOk(file, await newRepo(dir, 'same'), [], { OSTREE_TS_CACHE_DIR: here });
  const repo = await newRepo(dir, 'cross');
  const cross = await composeOk(file, repo, [], { OSTREE_TS_CACHE_DIR: there });
  assert.equal(cross.checksum, same.checksum, 'the same commit whichever filesystem the cache is on');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, '/usr/etc/app.conf')), 'setting=1');
  assert.deepEqual(await snapshot(treeThere), before, 'the cached tree is unchanged');
  await fsckClean(repo);
});

test('under a layer the cached tree is laid out by hard links, and gives the commit the in-place path gives for the same tree', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'owners in the cached tree')) return;
  const dir = await tempDir(t, 'ots-compose-debian-layer-');
  const layer = path.join(dir, 'layer');
  await mkdir(path.join(layer, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(layer, 'usr', 'bin', 'layered'), 'from a layer\n');
  const layered = path.join(dir, 'layered.yaml');
  const inPlace = path.join(dir, 'in-place.yaml');
  // A directory layer's file is 0644, owned by 0:0: what a files entry writes by default.
  await writeFile(layered, recipe('layers:\n  - directory: layer\n'));
  await writeFile(inPlace, recipe('').replace('files:\n', 'files:\n  - path: /usr/bin/layered\n    content: "from a layer\\n"\n'));
  const cache = path.join(dir, 'cache');
  const tree = await cachedTreeFor(layered, cache);
  const before = await snapshot(tree);
  const env = { OSTREE_TS_CACHE_DIR: cache };
  const repo = await newRepo(dir, 'a');
  const a = await composeOk(layered, repo, [], env);
  assert.doesNotMatch(a.out.stdout, /committed in place/, 'a recipe with layers lays the cached tree out');
  const b = await composeOk(inPlace, await newRepo(dir, 'b'), [], env);
  assert.match(b.out.stdout, /committed in place/);
  assert.equal(a.checksum, b.checksum, 'the same tree by either path gives the same commit');
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, REF, '/usr/bin/layered')), 'from a layer');
  assert.deepEqual(await snapshot(tree), before, 'the cached tree is unchanged');
  await fsckClean(repo);
});
