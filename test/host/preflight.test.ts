/**
 * `atomic upgrade` refuses, before changing anything, an update that fails a
 * preflight check — and says which: `downgrade`, `signature` (another key, a
 * corrupted signature, none at all), `boot-space`, `etc-merge` — and a
 * sysroot someone else holds locked. Each refusal is proven harmless by a
 * snapshot taken before and compared after: the boot/loader link, every file
 * under boot/ (entries included), the boot link farms, the deployment
 * directories, the sysroot repository's refs (the remote's included) and what
 * the real `ostree admin status` prints. Then the obstacle is removed and the
 * same upgrade goes through.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { decodeMetadata, encodeMetadata } from '../../src/format/index.js';
import { ok, ots, requireOstree, requireRoot, requireTool, run, tempDir, type RunResult } from '../helpers/env.js';
import {
  atomic, checkBootInvariants, deployDir, makeHost, makeOsTree, objectCount, ostreeStatus, publish, snapshotSysroot, type Host,
} from '../helpers/host.js';
import { snapshotTree } from '../helpers/snapshot.js';

interface ErrorDoc {
  kind: string;
  error: { code: string; message: string; data: Record<string, unknown> };
}

function errorDoc(r: RunResult): ErrorDoc {
  try {
    return JSON.parse(r.stdout) as ErrorDoc;
  } catch {
    throw new Error(`no JSON document on stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/**
 * `atomic upgrade --json` must fail naming `check`, and leave the sysroot
 * exactly as it was. With `noFetch`, not one object may have been stored
 * either (the check runs on the commit alone).
 */
async function refused(host: Host, check: string, why: string, o: { noFetch?: boolean; message?: RegExp } = {}): Promise<RunResult> {
  const before = await snapshotSysroot(host.sysroot);
  const objects = await objectCount(host.repo);
  const r = await atomic(`--sysroot=${host.sysroot}`, 'upgrade', '--json');
  assert.equal(r.code, check === 'signature' ? 4 : 5, `${why}: refused with the ${check === 'signature' ? 'signature' : 'preflight'} exit status\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: Preflight check '${check}' failed: .*Nothing was changed\\.$`, 'ms'), `${why}: the message names the check`);
  if (o.message) assert.match(r.stderr, o.message, why);
  const doc = errorDoc(r);
  assert.equal(doc.kind, 'Error');
  assert.equal(doc.error.code, 'E_PREFLIGHT', why);
  assert.equal(doc.error.data.check, check, why);
  assert.deepEqual(await snapshotSysroot(host.sysroot), before, `${why}: nothing changed`);
  if (o.noFetch) assert.equal(await objectCount(host.repo), objects, `${why}: nothing fetched`);
  return r;
}

/** The upgrade goes through: `csum` the default, the previous default (`prev`) the rollback. */
async function upgraded(host: Host, csum: string, prev: string, args: string[] = []): Promise<void> {
  const r = await atomic(`--sysroot=${host.sysroot}`, 'upgrade', ...args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Deployed ${csum}\\.0`));
  const boot = await checkBootInvariants(host.sysroot);
  assert.deepEqual(boot.map((d) => d.id), [`${csum}.0`, `${prev}.0`]);
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${csum}.0`, `${prev}.0`]);
  assert.equal(await ok(ots(`--repo=${host.repo}`, 'rev-parse', 'origin:os/stable')), csum, 'the remote ref names what was deployed');
}

test('downgrade: a ref moved to an older commit is refused, then deployed with --allow-downgrade', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-preflight-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  // The publisher moves os/stable to a commit dated before v1.
  const older = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-old'), { version: '0.9', kernel: 'k0' }), { timestamp: 1_600_000_000, version: '0.9' });
  const r = await refused(host, 'downgrade', 'older commit', { noFetch: true, message: /is older than the deployed .*\nhint: pass --allow-downgrade\b/ });
  assert.match(r.stderr, new RegExp(older));
  await upgraded(host, older, host.v1, ['--allow-downgrade']);
});

test('signature: a commit signed by another key, a corrupted signature and an unsigned commit are refused under a signing policy', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-preflight-');
  const keys = path.join(dir, 'keys');
  const other = path.join(dir, 'other-keys');
  await ok(ots('sign', 'generate', '--sign-type=ed25519', `--out=${keys}`), 'generate key');
  await ok(ots('sign', 'generate', '--sign-type=ed25519', `--out=${other}`), 'generate other key');
  const secret = path.join(keys, 'secret.ed25519');
  const host = await makeHost(t, dir, {
    v1: { version: '1', kernel: 'k1' }, keysFile: secret,
    remoteSettings: ['sign-verify=true', `verification-ed25519-file=${path.join(keys, 'public.ed25519')}`],
  });
  const tree = await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2' });
  let ts = 1_700_086_400;

  // Signed, but by a key the remote does not trust.
  await publish(host.upstream, tree, { timestamp: ts++, version: '2', keysFile: path.join(other, 'secret.ed25519') });
  await refused(host, 'signature', 'another key', { noFetch: true, message: /none valid from the 1 trusted key/ });

  // Signed by the right key, then the signature corrupted on the server.
  const corrupted = await publish(host.upstream, tree, { timestamp: ts++, version: '2', keysFile: secret });
  const metaFile = path.join(host.upstream, 'objects', corrupted.slice(0, 2), `${corrupted.slice(2)}.commitmeta`);
  const meta = decodeMetadata(await readFile(metaFile));
  const entry = meta.find(([k]) => k === 'ostree.sign.ed25519');
  assert.ok(entry, 'the commit carries an ed25519 signature');
  const sig = Buffer.from((entry[1].value as Uint8Array[])[0]);
  sig[17] ^= 0x40;
  await writeFile(metaFile, encodeMetadata([['ostree.sign.ed25519', { type: 'aay', value: [sig] }]]));
  await refused(host, 'signature', 'corrupted signature', { noFetch: true, message: /none valid/ });

  // No signature at all.
  await publish(host.upstream, tree, { timestamp: ts++, version: '2' });
  await refused(host, 'signature', 'unsigned', { noFetch: true, message: /has no ed25519 signature/ });

  // Properly signed: it goes through.
  const good = await publish(host.upstream, tree, { timestamp: ts++, version: '2', keysFile: secret });
  await upgraded(host, good, host.v1);
});

const needRoot = async (t: TestContext, why: string): Promise<boolean> => requireRoot(t, why);

test('boot-space: a kernel that does not fit in /boot is refused; with a larger /boot it goes through', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await needRoot(t, 'mounting a small /boot'))) return;
  if (!(await requireTool(t, 'mount', 'mount'))) return;
  const dir = await tempDir(t, 'ots-preflight-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  // v2's kernel is 2 MB; /boot becomes a 1 MB filesystem holding what it held.
  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2', kernelSize: 2 << 20 }), { timestamp: 1_700_086_400, version: '2' });
  const boot = path.join(host.sysroot, 'boot');
  const saved = path.join(dir, 'boot-saved');
  await ok(run('cp', ['-a', boot, saved]), 'save /boot');
  const facts = await snapshotTree(boot, { xattrs: false });
  await ok(run('mount', ['-t', 'tmpfs', '-o', 'size=1M,mode=0755', 'tmpfs', boot]), 'mount a small /boot');
  try {
    await ok(run('cp', ['-a', `${saved}/.`, boot]), 'fill /boot');
    assert.deepEqual(await snapshotTree(boot, { xattrs: false }), facts, 'the small /boot holds what /boot held');
    assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.id), [`${host.v1}.0`], 'v1 still boots');
    await refused(host, 'boot-space', 'kernel too big', { message: /need .* in .*boot, which has .* free/ });
    // Room enough: the same upgrade goes through, its kernel copied into the separate /boot.
    await ok(run('mount', ['-o', 'remount,size=16M', boot]), 'grow /boot');
    await upgraded(host, v2, host.v1);
    const kernel = await readFile(path.join(deployDir(host.sysroot, v2), 'usr/lib/modules/5.10.0-test/vmlinuz'));
    assert.equal(kernel.length, 2 << 20);
  } finally {
    await run('umount', [boot]);
  }
});

test('etc-merge: a default directory the user replaced by a file, and a modified file the new defaults make a directory, are refused', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-preflight-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  const etc = path.join(deployDir(host.sysroot, host.v1), 'etc');
  // The user's own changes, which any merge must carry over.
  await writeFile(path.join(etc, 'conf.d', '03-setting.conf'), 'setting3=mine\n');
  await writeFile(path.join(etc, 'local.conf'), 'added by the user\n');
  // 1. The directory /etc/app replaced by a file; v2 keeps app/ a directory.
  await rm(path.join(etc, 'app'), { recursive: true });
  await writeFile(path.join(etc, 'app'), 'a file now\n');
  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2' }), { timestamp: 1_700_086_400, version: '2' });
  await refused(host, 'etc-merge', 'directory replaced by a file', { message: /\/etc\/app\b.*new defaults make it a directory/ });

  // 2. The user puts the directory back but edits /etc/motd, which v3 makes a directory.
  await rm(path.join(etc, 'app'));
  await ok(run('cp', ['-a', path.join(etc, '..', 'usr', 'etc', 'app'), path.join(etc, 'app')]), 'restore /etc/app');
  await writeFile(path.join(etc, 'motd'), 'my own motd\n');
  const v3 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v3'), {
    version: '3', kernel: 'k3',
    etc: async (e) => {
      await rm(path.join(e, 'motd'));
      await mkdir(path.join(e, 'motd'));
      await writeFile(path.join(e, 'motd', '10-welcome'), 'Welcome\n');
    },
  }), { timestamp: 1_700_172_800, version: '3' });
  assert.notEqual(v3, v2);
  await refused(host, 'etc-merge', 'modified file becomes a directory', { message: /\/etc\/motd\b.*new defaults make it a directory/ });

  // The user restores the default motd: the upgrade goes through and keeps the other changes.
  await ok(run('cp', ['-a', path.join(etc, '..', 'usr', 'etc', 'motd'), path.join(etc, 'motd')]), 'restore /etc/motd');
  await upgraded(host, v3, host.v1);
  const newEtc = path.join(deployDir(host.sysroot, v3), 'etc');
  assert.equal(await readFile(path.join(newEtc, 'conf.d', '03-setting.conf'), 'utf8'), 'setting3=mine\n');
  assert.equal(await readFile(path.join(newEtc, 'local.conf'), 'utf8'), 'added by the user\n');
  assert.equal(await readFile(path.join(newEtc, 'motd', '10-welcome'), 'utf8'), 'Welcome\n');
});

/** Take an exclusive OFD lock on ARGV[0] (struct flock of x86-64/aarch64), say so, hold it until stdin ends. */
const HOLD_OFD_LOCK = 'use Fcntl; sysopen(my $fh, $ARGV[0], O_RDWR|O_CREAT, 0644) or die "open: $!"; '
  + 'my $lk = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0); fcntl($fh, 38, $lk) or die "F_OFD_SETLKW: $!"; '
  + '$| = 1; print "held\\n"; while (<STDIN>) {}';

test('the sysroot lock: held by another process, an upgrade fails with E_LOCKED and changes nothing; with --lock-wait it waits, then completes', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'flock', 'util-linux'))) return;
  if (!(await requireTool(t, 'perl', 'perl-base'))) return;
  const dir = await tempDir(t, 'ots-preflight-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2' }), { timestamp: 1_700_086_400, version: '2' });

  // Another writer holds ostree/lock until its stdin closes, with both lock primitives: flock(2), and the
  // open-file-description lock libostree takes (F_OFD_SETLKW = 38), so it is held whichever one is used.
  const lock = path.join(host.sysroot, 'ostree', 'lock');
  const holder = spawn('flock', ['--exclusive', lock, 'perl', '-e', HOLD_OFD_LOCK, lock], { stdio: ['pipe', 'pipe', 'inherit'] });
  const holderExit = new Promise<number | null>((resolve) => holder.on('exit', (code) => resolve(code)));
  t.after(() => {
    holder.stdin.end();
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('held')) resolve();
    });
    holder.on('error', reject);
    holder.on('exit', () => reject(new Error('flock exited before taking the lock')));
  });

  const before = await snapshotSysroot(host.sysroot);
  const objects = await objectCount(host.repo);
  const r = await atomic(`--sysroot=${host.sysroot}`, 'upgrade', '--json');
  assert.equal(r.code, 3, `the locked exit status\n${r.stderr}`);
  assert.match(r.stderr, /^error: The sysroot .* is locked\b.*\nhint: pass --lock-wait\b/m);
  const doc = errorDoc(r);
  assert.equal(doc.kind, 'Error');
  assert.equal(doc.error.code, 'E_LOCKED');
  assert.deepEqual(await snapshotSysroot(host.sysroot), before, 'nothing changed');
  assert.equal(await objectCount(host.repo), objects, 'nothing fetched');

  // With --lock-wait it cannot finish while the lock is held; once it is released, it completes.
  let finished = false;
  const waiting = atomic(`--sysroot=${host.sysroot}`, 'upgrade', '--lock-wait').then((res) => {
    finished = true;
    return res;
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(finished, false, 'the waiting upgrade did not get past a held lock');
  assert.deepEqual(await snapshotSysroot(host.sysroot), before, 'nothing changed while it waited');
  holder.stdin.end();
  assert.equal(await holderExit, 0);
  const w = await waiting;
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, new RegExp(`Deployed ${v2}\\.0`));
  assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.id), [`${v2}.0`, `${host.v1}.0`]);
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${v2}.0`, `${host.v1}.0`]);
});
