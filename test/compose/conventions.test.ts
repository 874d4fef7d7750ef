/**
 * The OSTree conventions compose applies and reports (issue 16): device
 * nodes, sockets and FIFOs dropped, /tmp and /run emptied, /var content as
 * tmpfiles.d entries with a warning, /etc to /usr/etc, the kernel into
 * usr/lib/modules; `bootable: false`; a signature from the recipe's key;
 * the README's example recipe reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isRoot, ok, ostree, ots, requireOstree, requireTool, ROOT, run, tempDir } from '../helpers/env.js';
import { composeCli, composeOk, fsckClean, newRepo, skipUnlessRoot } from './helpers.js';
import { loadRecipe } from '../../src/compose/index.js';

/** A tarball no well-behaved tool writes from a real tree: device nodes, a FIFO, /var, /tmp and /run content. */
const MAKE_TAR = `
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w')
def add(name, kind=tarfile.REGTYPE, data=b'', mode=0o644, **kw):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = mode; i.mtime = 1700000000; i.uid = kw.get('uid', 0); i.gid = kw.get('gid', 0)
    if kind == tarfile.SYMTYPE: i.linkname = kw['target']
    if kind == tarfile.CHRTYPE: i.devmajor, i.devminor = 1, 3
    i.size = len(data)
    t.addfile(i, io.BytesIO(data) if data else None)
for d in ['.', 'usr', 'usr/lib', 'etc', 'dev', 'var', 'var/lib', 'var/lib/app', 'var/log', 'tmp', 'run', 'boot']:
    add(d, tarfile.DIRTYPE, mode=0o1777 if d == 'tmp' else 0o755)
add('etc/app.conf', data=b'setting=1\\n')
add('boot/vmlinuz-1.0-test', data=b'kernel\\n')
add('boot/initrd.img-1.0-test', data=b'initrd\\n')
add('vmlinuz', tarfile.SYMTYPE, target='boot/vmlinuz-1.0-test', mode=0o777)
add('dev/null', tarfile.CHRTYPE, mode=0o666)
add('fifo', tarfile.FIFOTYPE)
add('var/lib/app/data', data=b'state\\n', uid=7, gid=8, mode=0o640)
add('var/run', tarfile.SYMTYPE, target='../run', mode=0o777)
add('tmp/junk', data=b'x')
add('run/pid', data=b'1')
t.close()
`;

test('conventions: each applied to the tree and reported', async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'python3', 'python3'))) return;
  if (!skipUnlessRoot(t, isRoot, 'extracting device nodes')) return;
  const dir = await tempDir(t, 'ots-compose-conv-');
  await ok(run('python3', ['-c', MAKE_TAR, path.join(dir, 'root.tar')]), 'make the tarball');
  const recipe = path.join(dir, 'r.yaml');
  await writeFile(recipe, 'ref: conv/test\nversion: "0.1"\ntimestamp: 1700000000\nbase:\n  tarball: root.tar\n');
  const repo = await newRepo(dir, 'repo');
  const { checksum, out } = await composeOk(recipe, repo);
  assert.match(out.stdout, /special files: dropped 2 device nodes, sockets and FIFOs .*dev\/null, fifo/);
  assert.match(out.stdout, /\/tmp: emptied \/tmp \(1 entries: junk\)/);
  assert.match(out.stdout, /\/run: emptied \/run \(1 entries: pid\)/);
  assert.match(out.stdout, /kernel: moved \/boot\/vmlinuz-1\.0-test and \/boot\/initrd\.img-1\.0-test to \/usr\/lib\/modules\/1\.0-test\/vmlinuz and initramfs\.img/);
  assert.match(out.stdout, /removed the link \/vmlinuz/);
  assert.match(out.stderr, /warning: \/var: \/var held 5 entries \(lib, log, run\).*tmpfiles\.d/);
  const ls = await ok(ostree('ls', `--repo=${repo}`, '-R', checksum));
  const paths = new Set(ls.split('\n').map((l) => l.trim().split(/\s+/)[4]));
  for (const gone of ['/dev/null', '/fifo', '/tmp/junk', '/run/pid', '/var/lib', '/etc', '/vmlinuz', '/boot/vmlinuz-1.0-test']) {
    assert.ok(!paths.has(gone), `${gone} is not in the commit:\n${ls}`);
  }
  for (const kept of ['/dev', '/var', '/run', '/usr/lib/modules/1.0-test/vmlinuz', '/usr/lib/modules/1.0-test/initramfs.img']) {
    assert.ok(paths.has(kept), `${kept} is in the commit:\n${ls}`);
  }
  assert.match(ls, /d01777 0 0 +0 \/tmp$/m);
  assert.match(ls, / \/usr\/etc\/app\.conf$/m);
  assert.match(ls, /-00640 7 8 +6 \/usr\/share\/factory\/var\/lib\/app\/data$/m, 'the file keeps its owner and mode');
  const conf = await ok(ostree('cat', `--repo=${repo}`, checksum, '/usr/lib/tmpfiles.d/ostree-ts-compose-var.conf'));
  assert.deepEqual(conf.split('\n').filter((l) => !l.startsWith('#')), [
    'd /var/lib 0755 0 0 - -',
    'd /var/lib/app 0755 0 0 - -',
    'C /var/lib/app/data - - - - /usr/share/factory/var/lib/app/data',
    'd /var/log 0755 0 0 - -',
    'L /var/run - - - - ../run',
  ]);
  assert.equal(await ok(ostree('show', `--repo=${repo}`, '--print-metadata-key=ostree.linux', checksum)), "'1.0-test'");
  await fsckClean(repo);
});

test('bootable: false commits a tree without a kernel, without ostree.bootable', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-conv-');
  await writeFile(path.join(dir, 'r.yaml'), `ref: app/x\nbootable: false\ntimestamp: 1\nbase:\n  directory: ${path.join(ROOT, 'fixtures', 'hello-os', 'rootfs')}\n`);
  const repo = await newRepo(dir, 'repo');
  const { checksum, out } = await composeOk(path.join(dir, 'r.yaml'), repo);
  assert.match(out.stdout, /kernel: {3}none \(not bootable\)/);
  const r = await ostree('show', `--repo=${repo}`, '--print-metadata-key=ostree.bootable', checksum);
  assert.notEqual(r.code, 0, 'no ostree.bootable key');
  await fsckClean(repo);
});

test("the recipe's ed25519 key signs the commit in the same transaction", async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-sign-');
  await ok(ots('sign', 'generate', `--out=${path.join(dir, 'keys')}`), 'sign generate');
  const hello = path.join(ROOT, 'recipes', 'hello-os.yaml');
  await writeFile(path.join(dir, 'signed.yaml'), `include: [${hello}]\nsign: {type: ed25519, key: keys/secret.ed25519}\n`);
  const repo = await newRepo(dir, 'repo');
  const { checksum, out } = await composeOk(path.join(dir, 'signed.yaml'), repo);
  assert.match(out.stdout, /signed: {3}yes/);
  const pub = (await readFile(path.join(dir, 'keys', 'public.ed25519'), 'utf8')).trim();
  // Debian's ostree is built without ed25519 support: the signature is checked by ostree-ts.
  assert.match(await ok(ots(`--repo=${repo}`, 'sign', '--verify', checksum, pub)), /verified successfully/);
  // A key file given on the command line that does not exist stops the build before it starts.
  const r = await composeCli([path.join(dir, 'signed.yaml'), `--repo=${repo}`, `--sign-key=${path.join(dir, 'nope')}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Compose step sign failed: Cannot read the key file .*nope/);
  await fsckClean(repo);
});

test("the README's example recipe is a valid recipe", async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const m = /## Recipes[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'the README has a yaml example under Recipes');
  const r = await loadRecipe('example.yaml', {
    read: async (f) => (f === 'example.yaml' ? m[1] : 'ref: base/x\n'),
    resolve: (_from, p) => p,
  });
  assert.equal(r.ref, 'hello-os/x86_64/stable');
  assert.equal(r.layers.length, 2);
  assert.equal(r.checks[0].kind, 'required');
});

test('postprocess runs in a chroot of the tree when run as root and the tree has /bin/sh', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!skipUnlessRoot(t, isRoot, 'chroot')) return;
  const dir = await tempDir(t, 'ots-compose-chroot-');
  const tree = path.join(dir, 'tree');
  // A tree with a shell: the machine's dash and the libraries it loads.
  const libs = (await ok(run('ldd', ['/bin/dash']))).split('\n').map((l) => /(\/\S+) \(/.exec(l)?.[1]).filter((p): p is string => !!p);
  for (const f of ['/bin/dash', ...libs]) {
    await ok(run('mkdir', ['-p', path.join(tree, path.dirname(f))]), 'mkdir');
    await ok(run('cp', ['-L', f, path.join(tree, f)]), `cp ${f}`);
  }
  await ok(run('cp', ['-L', '/bin/dash', path.join(tree, 'bin', 'sh')]), 'cp sh');
  await writeFile(path.join(dir, 'r.yaml'), [
    'ref: chroot/test', 'bootable: false', 'timestamp: 1', 'base:', '  directory: tree',
    'postprocess:', '  - name: inside', '    script: |', '      test "$TREE" = /', '      echo "built at $SOURCE_DATE_EPOCH" > /proof', '',
  ].join('\n'));
  const repo = await newRepo(dir, 'repo');
  const { checksum } = await composeOk(path.join(dir, 'r.yaml'), repo);
  assert.equal(await ok(ostree('cat', `--repo=${repo}`, checksum, '/proof')), 'built at 1');
  await fsckClean(repo);
});

test('a staged tree a killed compose left behind is removed once older than core.tmp-expiry-secs', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-stale-');
  const repo = await newRepo(dir, 'repo');
  const old = path.join(repo, 'tmp', 'compose-old');
  const recent = path.join(repo, 'tmp', 'compose-recent');
  for (const d of [old, recent]) await mkdir(path.join(d, 'tree'), { recursive: true });
  const twoDaysAgo = new Date(Date.now() - 2 * 86400 * 1000);
  await utimes(old, twoDaysAgo, twoDaysAgo);
  await composeOk(path.join(ROOT, 'recipes', 'hello-os.yaml'), repo);
  assert.deepEqual((await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('compose-')), ['compose-recent']);
  await fsckClean(repo);
});
