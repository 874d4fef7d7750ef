/**
 * The /etc three-way merge: the diff, the dry run, the conflict refusal, the
 * exact copy, and the whole merge checked against the real `ostree admin
 * deploy` (the oracle) on a directory sysroot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lchown, link, lstat, mkdir, readdir, readFile, rm, stat, symlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import { readXattrs, writeXattr } from '../../src/io/index.js';
import { OstreeTsError } from '../../src/errors/index.js';
import { applyEtcMerge, checkEtcMerge, copyTree, diffEtc, dirDefaults, type EtcNewDefaults } from '../../src/sysroot/etc-merge.js';
import { isRoot, ok, ostree, requireOstree, tempDir } from '../helpers/env.js';
import { snapshotTree } from '../helpers/snapshot.js';
import { putFile } from '../helpers/trees.js';

async function dir(root: string, rel: string, mode = 0o755): Promise<void> {
  const p = path.join(root, rel);
  await mkdir(p, { recursive: true });
  await chmod(p, mode);
}

async function relink(root: string, rel: string, target: string): Promise<void> {
  const p = path.join(root, rel);
  await rm(p, { recursive: true, force: true });
  await symlink(target, p);
}

async function inodes(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isFile()) out.add(`${st.dev}:${st.ino}`);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(path.join(p, n));
  };
  await walk(root);
  return out;
}

test('diffEtc classifies changes as libostree does (xattrs ignored, added and removed directories listed once)', async (t) => {
  const d = await tempDir(t);
  const orig = path.join(d, 'usr-etc');
  const mod = path.join(d, 'etc');
  for (const root of [orig, mod]) {
    await dir(root, '.');
    await putFile(root, 'same.conf', 'same\n');
    await putFile(root, 'content.conf', 'aaaa\n');
    await putFile(root, 'mode.conf', 'm\n');
    await putFile(root, 'removed.conf', 'r\n');
    await putFile(root, 'removed-dir/x', 'x\n');
    await putFile(root, 'sub/deep/kept', 'k\n');
    await putFile(root, 'sub/deep/changed', 'c\n');
    await putFile(root, 'xattr-only.conf', 'x\n');
    await putFile(root, 'file-to-dir', 'f\n');
    await putFile(root, 'dir-to-file/y', 'y\n');
    await putFile(root, 'big.bin', Buffer.alloc(3 << 20, 7));
    await dir(root, 'metadir');
    await putFile(root, 'metadir/inner', 'i\n');
    await symlink('same.conf', path.join(root, 'link'));
    await putFile(root, 'owner.conf', 'o\n');
  }
  // The modified tree: one change of each kind.
  await putFile(mod, 'content.conf', 'bbbb\n'); // same size, other bytes
  await chmod(path.join(mod, 'mode.conf'), 0o600);
  await rm(path.join(mod, 'removed.conf'));
  await rm(path.join(mod, 'removed-dir'), { recursive: true });
  await putFile(mod, 'sub/deep/changed', 'changed\n');
  await writeXattr(path.join(mod, 'xattr-only.conf'), 'user.note', Buffer.from('ignored'));
  await rm(path.join(mod, 'file-to-dir'));
  await putFile(mod, 'file-to-dir/z', 'z\n');
  await rm(path.join(mod, 'dir-to-file'), { recursive: true });
  await putFile(mod, 'dir-to-file', 'now a file\n');
  const big = Buffer.alloc(3 << 20, 7);
  big[big.length - 1] = 8; // differs only in its last byte, past the whole-file threshold
  await putFile(mod, 'big.bin', big);
  await chmod(path.join(mod, 'metadir'), 0o700);
  await relink(mod, 'link', 'content.conf');
  await putFile(mod, 'added.conf', 'new\n');
  await putFile(mod, 'added-dir/a/b', 'b\n');
  await putFile(mod, 'added-dir/c', 'c\n');
  await putFile(mod, 'sub/deep/added', 'a\n');
  if (isRoot) await chown(path.join(mod, 'owner.conf'), 1000, 1000);
  // The same inode on both sides is equal without reading it.
  await link(path.join(orig, 'same.conf'), path.join(d, 'shared'));
  await rm(path.join(mod, 'same.conf'));
  await link(path.join(orig, 'same.conf'), path.join(mod, 'same.conf'));

  const plan = await diffEtc(orig, mod);
  assert.deepEqual(plan, {
    modified: ['big.bin', 'content.conf', 'dir-to-file', 'file-to-dir', 'link', 'metadir', 'mode.conf', ...(isRoot ? ['owner.conf'] : []), 'sub/deep/changed'],
    removed: ['removed-dir', 'removed.conf'],
    added: ['added-dir', 'added.conf', 'sub/deep/added'],
  });
  // Identical trees: no changes at all.
  assert.deepEqual(await diffEtc(orig, orig), { modified: [], removed: [], added: [] });
  await assert.rejects(diffEtc(orig, path.join(d, 'missing')), (e: unknown) => e instanceof OstreeTsError && e.code === 'E_NOT_FOUND');
});

test('copyTree copies exactly: modes, owners, xattrs, symlinks, times, and never hard links', async (t) => {
  const d = await tempDir(t);
  const src = path.join(d, 'src');
  await dir(src, '.');
  await putFile(src, 'plain.conf', 'plain\n');
  await putFile(src, 'secret', 'secret\n', 0o600);
  await putFile(src, 'empty', '');
  await putFile(src, 'bin/suid', '#!/bin/sh\n', 0o4755);
  await dir(src, 'sticky', 0o1777);
  await putFile(src, 'ro/inside', 'inside\n', 0o444);
  await chmod(path.join(src, 'ro'), 0o555);
  await symlink('/nonexistent/target', path.join(src, 'dangling'));
  await symlink('plain.conf', path.join(src, 'rel-link'));
  await writeXattr(path.join(src, 'plain.conf'), 'user.alpha', Buffer.from('one'));
  await writeXattr(path.join(src, 'bin'), 'user.dir', Buffer.from([0, 1, 2, 255]));
  await utimes(path.join(src, 'plain.conf'), 1_000_000, 1_500_000);
  if (isRoot) {
    await chown(path.join(src, 'secret'), 1234, 5678);
    await chown(path.join(src, 'sticky'), 42, 43);
    await lchown(path.join(src, 'rel-link'), 7, 8);
  }
  const dest = path.join(d, 'dest');
  await copyTree(src, dest, { asRoot: isRoot });
  assert.deepEqual(await snapshotTree(dest), await snapshotTree(src));
  const srcInodes = await inodes(src);
  for (const i of await inodes(dest)) assert.ok(!srcInodes.has(i), 'a copy, not a hard link');
  assert.equal((await stat(path.join(dest, 'plain.conf'))).mtimeMs, 1_500_000_000);
  if (isRoot) assert.equal((await lstat(path.join(dest, 'rel-link'))).uid, 7);
  await assert.rejects(copyTree(src, dest), (e: unknown) => e instanceof OstreeTsError && e.code === 'E_EXISTS');
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(copyTree(src, path.join(d, 'never'), { signal: aborted.signal }), { name: 'AbortError' });
});

test('a file the user kept where the new defaults have a directory: the dry run reports it, the merge refuses and changes nothing', async (t) => {
  const d = await tempDir(t);
  const orig = path.join(d, 'M-usr-etc');
  const mod = path.join(d, 'M-etc');
  const next = path.join(d, 'new-usr-etc');
  for (const root of [orig, mod]) {
    await dir(root, '.');
    await putFile(root, 'x.conf', 'default-x\n');
    await putFile(root, 'p/q.conf', 'default-q\n');
    await putFile(root, 'z.conf', 'default-z\n');
  }
  await putFile(mod, 'x.conf', 'user-x\n'); // modified; the new defaults turn it into a directory
  await putFile(mod, 'p/q.conf', 'user-q\n'); // modified; the new defaults turn its parent into a file
  await putFile(mod, 'y.conf', 'user-y\n'); // added; the new defaults have a directory there
  await rm(path.join(mod, 'z.conf')); // removed: must not happen when the merge is refused
  await dir(next, '.');
  await putFile(next, 'x.conf/inside', 'new default\n');
  await putFile(next, 'p', 'now a file\n');
  await putFile(next, 'y.conf/inside', 'new default\n');
  await putFile(next, 'z.conf', 'default-z2\n');

  const plan = await diffEtc(orig, mod);
  assert.deepEqual(plan, { modified: ['p/q.conf', 'x.conf'], removed: ['z.conf'], added: ['y.conf'] });

  const conflicts = await checkEtcMerge(plan, mod, dirDefaults(next));
  assert.deepEqual(conflicts.map((c) => c.path), ['p/q.conf', 'x.conf', 'y.conf']);
  assert.match(conflicts[0].reason, /new defaults have a file at \/etc\/p/);
  assert.match(conflicts[1].reason, /has a file at \/etc\/x\.conf, but the new defaults make it a directory/);
  assert.match(conflicts[1].reason, /cp -a \/usr\/etc\/x\.conf \/etc\/x\.conf/);
  assert.match(conflicts[2].reason, /move \/etc\/y\.conf out of the way/);

  // The same dry run against defaults that exist only as a listing (say, a commit not yet checked out).
  const listing: Record<string, 'dir' | 'file' | 'symlink'> = { 'x.conf': 'dir', 'x.conf/inside': 'file', p: 'dir', 'p/q.conf': 'file', 'z.conf': 'file' };
  const abstract: EtcNewDefaults = { typeOf: async (rel) => listing[rel] ?? null };
  const fromListing = await checkEtcMerge(plan, mod, abstract);
  assert.deepEqual(fromListing.map((c) => c.path), ['x.conf']);
  // Without the conflicting entries there is nothing to report.
  assert.deepEqual(await checkEtcMerge(plan, mod, { typeOf: async (rel) => (rel === 'p' ? 'dir' : null) }), []);

  const before = await snapshotTree(next);
  const modBefore = await snapshotTree(mod);
  await assert.rejects(applyEtcMerge(plan, mod, next), (e: unknown) => {
    assert.ok(e instanceof OstreeTsError);
    assert.equal(e.code, 'E_TREE_CONFLICT');
    assert.equal(e.data.path, 'p/q.conf');
    assert.equal((e.data.conflicts as unknown[]).length, 3);
    assert.match(e.message, /Cannot merge \/etc: .*\(and 2 more conflicts\)\. Nothing was changed\./);
    return true;
  });
  assert.deepEqual(await snapshotTree(next), before, 'the new etc is untouched, the removal included');
  assert.deepEqual(await snapshotTree(mod), modBefore, 'the merge deployment is never touched');
});

test('nothing is written or deleted through a symlink in the new defaults', async (t) => {
  const d = await tempDir(t);
  const orig = path.join(d, 'M-usr-etc');
  const mod = path.join(d, 'M-etc');
  const next = path.join(d, 'new-etc');
  const outside = path.join(d, 'outside');
  for (const root of [orig, mod]) {
    await dir(root, '.');
    await putFile(root, 'ln/old.conf', 'old\n');
  }
  await rm(path.join(mod, 'ln', 'old.conf')); // removed by the user
  await putFile(outside, 'old.conf', 'not ours\n');
  await dir(next, '.');
  await symlink(outside, path.join(next, 'ln')); // the new defaults make ln a symlink out of etc

  // The removal has nothing to remove in the new etc: the symlink is not followed.
  const removalOnly = await diffEtc(orig, mod);
  assert.deepEqual(removalOnly, { modified: [], removed: ['ln/old.conf'], added: [] });
  assert.deepEqual(await checkEtcMerge(removalOnly, mod, dirDefaults(next)), []);
  await applyEtcMerge(removalOnly, mod, next, { asRoot: isRoot });
  assert.equal(await readFile(path.join(outside, 'old.conf'), 'utf8'), 'not ours\n');

  // A file added inside the user's directory would land outside: a conflict.
  await putFile(mod, 'ln/new.conf', 'user\n');
  const plan = await diffEtc(orig, mod);
  const conflicts = await checkEtcMerge(plan, mod, dirDefaults(next));
  assert.deepEqual(conflicts.map((c) => c.path), ['ln/new.conf']);
  assert.match(conflicts[0].reason, /new defaults have a symlink at \/etc\/ln/);
  await assert.rejects(applyEtcMerge(plan, mod, next), { code: 'E_TREE_CONFLICT' });
  assert.deepEqual((await readdir(outside)).sort(), ['old.conf']);
});

test('plans with unsafe paths are refused', async (t) => {
  const d = await tempDir(t);
  await dir(d, 'etc');
  await dir(d, 'new');
  for (const bad of ['../escape', '/abs', 'a//b', 'a/./b', '']) {
    await assert.rejects(applyEtcMerge({ modified: [], removed: [bad], added: [] }, path.join(d, 'etc'), path.join(d, 'new')), (e: unknown) => e instanceof OstreeTsError && e.code === 'E_USAGE', bad);
  }
});

async function osTree(root: string, etc: (etcDir: string) => Promise<void>): Promise<void> {
  await putFile(root, 'usr/lib/modules/5.10.0-test/vmlinuz', 'kernel\n');
  await putFile(root, 'usr/lib/modules/5.10.0-test/initramfs.img', 'initramfs\n');
  await putFile(root, 'usr/lib/os-release', 'PRETTY_NAME="Test OS"\nID=testos\n');
  await dir(root, 'usr/etc');
  await etc(path.join(root, 'usr/etc'));
}

test('the merge gives exactly what `ostree admin deploy` gives (oracle)', { timeout: 5 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const d = await tempDir(t);
  const sysroot = path.join(d, 'sysroot');
  const repo = path.join(sysroot, 'ostree', 'repo');
  await mkdir(sysroot);
  await ok(ostree('admin', 'init-fs', sysroot), 'init-fs');
  await ok(ostree('admin', `--sysroot=${sysroot}`, 'os-init', 'testos'), 'os-init');

  const v1 = path.join(d, 'v1');
  await osTree(v1, async (e) => {
    await putFile(e, 'a.conf', 'default-a\n');
    await putFile(e, 'b.conf', 'default-b\n');
    await putFile(e, 'sub/c.conf', 'default-c\n');
    await symlink('a.conf', path.join(e, 'link'));
    await putFile(e, 'secret', 'secret-1\n', 0o600);
    await putFile(e, 'e.conf', 'default-e\n');
    await putFile(e, 'f.conf', 'default-f\n');
    await putFile(e, 'gdir/h.conf', 'default-h\n');
    await putFile(e, 'meta/m.conf', 'default-m\n');
    await putFile(e, 'gone.conf', 'default-gone\n');
    await putFile(e, 'own.conf', 'default-own\n');
    await putFile(e, 'xattr.conf', 'default-x\n');
    await writeXattr(path.join(e, 'xattr.conf'), 'user.test', Buffer.from('v1'));
    await putFile(e, 'lvl/keep.conf', 'default-keep\n');
    await chmod(path.join(e, 'lvl'), 0o711);
  });
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'testos/stable', '-s', 'v1', `--tree=dir=${v1}`), 'commit v1');
  await ok(ostree('admin', `--sysroot=${sysroot}`, 'deploy', '--os=testos', 'testos/stable'), 'deploy v1');
  const rev1 = await ok(ostree(`--repo=${repo}`, 'rev-parse', 'testos/stable'));
  const M = path.join(sysroot, 'ostree', 'deploy', 'testos', 'deploy', `${rev1}.0`);
  // A fresh deployment's etc is an exact copy of its usr/etc, as copyTree makes it.
  const fresh = path.join(d, 'fresh-etc');
  await copyTree(path.join(M, 'usr', 'etc'), fresh, { asRoot: isRoot });
  assert.deepEqual(await snapshotTree(fresh), await snapshotTree(path.join(M, 'etc')));

  // The user's changes.
  const etc = path.join(M, 'etc');
  await putFile(etc, 'a.conf', 'user-a\n');
  await rm(path.join(etc, 'b.conf'));
  await putFile(etc, 'new.conf', 'user-new\n');
  await putFile(etc, 'newdir/f', 'user-f\n');
  await putFile(etc, 'newdir/deeper/x', 'user-x\n', 0o640);
  await chmod(path.join(etc, 'newdir', 'deeper'), 0o700);
  await chmod(path.join(etc, 'e.conf'), 0o640);
  await relink(etc, 'link', 'sub/c.conf');
  await rm(path.join(etc, 'f.conf'));
  await putFile(etc, 'f.conf/inner', 'user-inner\n'); // a file replaced by a directory
  await putFile(etc, 'gdir', 'user-gdir\n'); // a directory replaced by a file
  await chmod(path.join(etc, 'sub'), 0o750);
  await putFile(etc, 'sub/added.conf', 'user-added\n'); // carries sub's mode into the new etc
  if (isRoot) await chown(path.join(etc, 'own.conf'), 1000, 1000);
  await chmod(path.join(etc, 'meta'), 0o700); // a directory's mode alone: not carried
  await putFile(etc, 'both/u.conf', 'user-u\n'); // the new defaults add the same directory
  await putFile(etc, 'gone.conf', 'user-gone\n'); // modified, dropped from the new defaults
  await putFile(etc, '.updated', '');
  await symlink('/nonexistent', path.join(etc, 'userlink'));
  await putFile(etc, 'xattr.conf', 'user-x\n');
  await writeXattr(path.join(etc, 'xattr.conf'), 'user.test', Buffer.from('user'));
  await putFile(etc, 'lvl/a/b/c.conf', 'user-deep\n'); // the new defaults drop lvl: recreated from the template
  await chmod(path.join(etc, 'lvl', 'a'), 0o750);

  // Our diff agrees with `ostree admin config-diff` (which lists an added directory's contents too).
  const plan = await diffEtc(path.join(M, 'usr', 'etc'), etc);
  const cd = await ok(ostree('admin', `--sysroot=${sysroot}`, 'config-diff', '--os=testos'), 'config-diff');
  const theirs: Record<string, string[]> = { M: [], D: [], A: [] };
  for (const line of cd.split('\n')) {
    const m = /^([MDA])\s+(.+)$/.exec(line);
    if (m) theirs[m[1]].push(m[2]);
  }
  const sorted = (xs: string[]): string[] => [...xs].sort();
  assert.deepEqual(sorted(plan.modified), sorted(theirs.M), 'modified');
  assert.deepEqual(sorted(plan.removed), sorted(theirs.D), 'removed');
  const topAdded = theirs.A.filter((p) => !theirs.A.some((q) => p.startsWith(`${q}/`)));
  assert.deepEqual(sorted(plan.added), sorted(topAdded), 'added');
  assert.ok(plan.added.includes('newdir') && !plan.added.includes('newdir/f'));

  // v2: new defaults.
  const v2 = path.join(d, 'v2');
  await osTree(v2, async (e) => {
    await putFile(e, 'a.conf', 'default-a2\n');
    await putFile(e, 'b.conf', 'default-b2\n');
    await putFile(e, 'sub/c.conf', 'default-c2\n');
    await symlink('a.conf', path.join(e, 'link'));
    await putFile(e, 'secret', 'secret-2\n', 0o600);
    await putFile(e, 'e.conf', 'default-e2\n');
    await putFile(e, 'f.conf', 'default-f2\n');
    await putFile(e, 'meta/m.conf', 'default-m2\n');
    await putFile(e, 'own.conf', 'default-own\n');
    await putFile(e, 'xattr.conf', 'default-x2\n');
    await writeXattr(path.join(e, 'xattr.conf'), 'user.test', Buffer.from('v2'));
    await putFile(e, 'both/v.conf', 'default-v\n');
    await putFile(e, 'd.conf', 'default-d\n');
  });
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'testos/stable', '-s', 'v2', `--tree=dir=${v2}`), 'commit v2');
  const rev2 = await ok(ostree(`--repo=${repo}`, 'rev-parse', 'testos/stable'));
  const N = path.join(sysroot, 'ostree', 'deploy', 'testos', 'deploy', `${rev2}.0`);

  // The dry run against v2's defaults, before ostree deploys it: nothing in the way.
  const v2Defaults = dirDefaults(path.join(v2, 'usr', 'etc'));
  assert.deepEqual(await checkEtcMerge(plan, etc, v2Defaults), []);

  const mBefore = await snapshotTree(etc);
  await ok(ostree('admin', `--sysroot=${sysroot}`, 'deploy', '--os=testos', 'testos/stable'), 'deploy v2');

  // Ours: copy v2's usr/etc, then merge.
  const ours = path.join(d, 'ours-etc');
  await copyTree(path.join(N, 'usr', 'etc'), ours, { asRoot: isRoot });
  await applyEtcMerge(await diffEtc(path.join(M, 'usr', 'etc'), etc), etc, ours, { asRoot: isRoot });

  const expected = await snapshotTree(path.join(N, 'etc'));
  assert.deepEqual(await snapshotTree(ours), expected);
  assert.deepEqual(await snapshotTree(etc), mBefore, 'the merge deployment is not changed');

  // Spot checks, so a shared mistake in both cannot pass unnoticed.
  const at = (rel: string): Promise<string> => readFile(path.join(ours, rel), 'utf8');
  assert.equal(await at('a.conf'), 'user-a\n');
  await assert.rejects(lstat(path.join(ours, 'b.conf')));
  assert.equal(await at('sub/c.conf'), 'default-c2\n');
  assert.equal(await at('d.conf'), 'default-d\n');
  assert.equal(await at('newdir/deeper/x'), 'user-x\n');
  assert.equal(await at('both/u.conf'), 'user-u\n');
  assert.equal(await at('both/v.conf'), 'default-v\n');
  assert.equal(await at('secret'), 'secret-2\n');
  assert.equal(await at('lvl/a/b/c.conf'), 'user-deep\n');
  assert.equal((await lstat(path.join(ours, 'lvl'))).mode & 0o7777, 0o711);
  assert.equal((await lstat(path.join(ours, 'sub'))).mode & 0o7777, 0o750);
  assert.equal((await lstat(path.join(ours, 'meta'))).mode & 0o7777, 0o755);
  assert.equal((await lstat(path.join(ours, 'e.conf'))).mode & 0o7777, 0o640);
  assert.ok((await lstat(path.join(ours, 'f.conf'))).isDirectory());
  assert.ok((await lstat(path.join(ours, 'gdir'))).isFile());
  await assert.rejects(lstat(path.join(ours, '.updated')));
  const xs = await readXattrs(path.join(ours, 'xattr.conf'));
  assert.equal(Buffer.from(xs.find((x) => x.name === 'user.test')?.value ?? []).toString(), 'user');
  if (isRoot) assert.equal((await lstat(path.join(ours, 'own.conf'))).uid, 1000);
});
