/**
 * Issue 16, acceptance 2: recipes/debian-bookworm-minimal.yaml composes (a
 * real Debian bookworm by mmdebstrap, from the mirror in this machine's apt
 * sources), and the real `ostree admin deploy` deploys it into a test
 * sysroot whose boot entry names the real kernel and initramfs.
 *
 * The mmdebstrap output is cached by a key of its inputs (suite, variant,
 * packages, mirror) under $OSTREE_TS_CACHE_DIR (default: a fixed directory
 * in the temporary directory), so a rerun takes the commit's time only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isRoot, ok, ostree, requireOstree, requireTool, ROOT, tempDir } from '../helpers/env.js';
import { parseBls } from '../helpers/sysroot.js';
import { composeOk, fsckClean, skipUnlessRoot } from './helpers.js';

const REF = 'debian/bookworm/x86_64/minimal';

/** A bzImage kernel: the "HdrS" magic of the x86 boot protocol at 0x202. */
async function isBzImage(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0x202);
    return b.toString('latin1') === 'HdrS';
  } finally {
    await fh.close();
  }
}

test('the Debian recipe composes, and the real ostree admin deploy boots its kernel and initramfs', { timeout: 40 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'mmdebstrap', 'mmdebstrap'))) return;
  if (!skipUnlessRoot(t, isRoot, 'mmdebstrap (and a bare system repository)')) return;
  const dir = await tempDir(t, 'ots-compose-debian-');
  const sysroot = path.join(dir, 'sysroot');
  await mkdir(sysroot);
  await ok(ostree('admin', 'init-fs', sysroot), 'ostree admin init-fs');
  await ok(ostree('admin', `--sysroot=${sysroot}`, 'os-init', 'debian'), 'ostree admin os-init');
  const repo = path.join(sysroot, 'ostree', 'repo');
  const cache = process.env.OSTREE_TS_CACHE_DIR ?? path.join(tmpdir(), 'ostree-ts-compose-cache');
  const recipe = path.join(ROOT, 'recipes', 'debian-bookworm-minimal.yaml');
  const { checksum, out } = await composeOk(recipe, repo, [], { OSTREE_TS_CACHE_DIR: cache });
  t.diagnostic(out.stdout.split('\n').filter((l) => /kernel|base|\/var|\/etc|size/.test(l)).join('\n'));
  assert.match(out.stdout, /kernel: {3}\d+\.\d+\.\d+-\d+-amd64/);
  assert.match(out.stdout, /moved \/etc to \/usr\/etc/);
  assert.equal(await ok(ostree('show', `--repo=${repo}`, '--print-metadata-key=version', REF)), "'12'");
  assert.equal(await ok(ostree('show', `--repo=${repo}`, '--print-metadata-key=ostree.bootable', REF)), 'true');
  await ok(ostree('admin', `--sysroot=${sysroot}`, 'deploy', '--os=debian', '--karg=root=LABEL=root', REF), 'ostree admin deploy');

  const entries = (await readdir(path.join(sysroot, 'boot', 'loader', 'entries'))).filter((n) => n.endsWith('.conf'));
  assert.equal(entries.length, 1, `one boot entry: ${entries.join(', ')}`);
  const bls = new Map(parseBls(await readFile(path.join(sysroot, 'boot', 'loader', 'entries', entries[0]), 'utf8')));
  const linux = bls.get('linux') ?? '';
  const initrd = bls.get('initrd') ?? '';
  assert.match(linux, /^\/ostree\/debian-[0-9a-f]{64}\/vmlinuz-\d+\.\d+\.\d+-\d+-amd64$/);
  assert.match(initrd, /^\/ostree\/debian-[0-9a-f]{64}\/initramfs-\d+\.\d+\.\d+-\d+-amd64\.img$/);
  assert.match(bls.get('options') ?? '', new RegExp(`ostree=/ostree/boot\\.\\d/debian/[0-9a-f]{64}/0`));
  const kernel = path.join(sysroot, 'boot', linux);
  assert.ok(await isBzImage(kernel), `${linux} is a Linux kernel image`);
  assert.ok((await stat(path.join(sysroot, 'boot', initrd))).size > 1024 * 1024, `${initrd} is an initramfs of some size`);
  const deployed = (await readdir(path.join(sysroot, 'ostree', 'deploy', 'debian', 'deploy'))).filter((n) => n.startsWith(checksum) && !n.endsWith('.origin'));
  assert.equal(deployed.length, 1, 'the composed commit is deployed');
  const root = path.join(sysroot, 'ostree', 'deploy', 'debian', 'deploy', deployed[0]);
  assert.ok((await stat(path.join(root, 'usr', 'lib', 'systemd', 'systemd'))).isFile(), 'systemd is in the tree');
  assert.equal((await readFile(path.join(root, 'etc', 'hostname'), 'utf8')), 'debian\n', '/etc comes from /usr/etc');
  await fsckClean(repo);
});
