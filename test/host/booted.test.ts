/**
 * A booted host, simulated through the injected host environment: the
 * library is told which deployment `/` is (its directory's device and
 * inode, or its name) and that OSTree booted the machine. Then the status
 * marks — booted, pending, rollback — are compared with what the real
 * `ostree admin status` prints on the same sysroot booted for real (a
 * chroot into the deployment, as ostree-prepare-root sets it up), and with
 * our own CLI run in that chroot on the real environment. Rollback,
 * upgrade and cleanup run while booted: the booted deployment is always
 * kept, its /etc is what an upgrade merges, and cleanup never removes it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  cleanup, hostStatus, pin, renderAdminStatus, renderHostStatus, rollback, upgrade, type HostStatus,
} from '../../src/host/index.js';
import type { HostEnv } from '../../src/io/host-env.js';
import { writeList } from '../../src/sysroot/index.js';
import { ok, ostree, requireOstree, tempDir } from '../helpers/env.js';
import { CHROOT_ATOMIC, CHROOT_CLI, canChroot, chrootOut, hostEnv } from '../helpers/booted.js';
import {
  OS, checkBootInvariants, deployDir, makeHost, makeOsTree, ostreeStatus, publish, snapshotSysroot, type Host,
} from '../helpers/host.js';

const REFSPEC = 'origin:os/stable';

/** Publish version `n` (a bootable tree, the same kernel as v1) on os/stable. */
async function publishVersion(host: Host, n: number): Promise<string> {
  const tree = await makeOsTree(path.join(host.dir, `tree-v${n}`), { version: String(n), kernel: 'k1', rootfs: true });
  return publish(host.upstream, tree, { timestamp: 1_700_000_000 + n * 86_400, version: String(n) });
}

async function bootableHost(t: TestContext): Promise<Host> {
  return makeHost(t, await tempDir(t, 'ots-booted-'), { v1: { version: '1', kernel: 'k1', rootfs: true } });
}

/** A host running deployment CHECKSUM.0 of the sysroot. */
function bootInto(t: TestContext, host: Host, csum: string): Promise<HostEnv> {
  return hostEnv(t, { booted: deployDir(host.sysroot, csum) });
}

type Marks = [id: string, marks: string];

/** Each deployment's id and marks, as the status document has them. */
function marksOf(doc: HostStatus): Marks[] {
  return doc.deployments.map((d) => [d.id, [d.booted && 'booted', d.default && 'default', d.pending && 'pending', d.rollback && 'rollback', d.pinned && 'pinned'].filter(Boolean).join(' ')]);
}

/** `atomic status` text: for each deployment block, its bullet, its marks in parentheses, and its Deployment row. */
function atomicMarks(text: string): Array<[bullet: string, marks: string, id: string]> {
  const out: Array<[string, string, string]> = [];
  for (const block of text.split('\n\n')) {
    const head = /^([● ]) \S+?(?:  \((.*)\))?$/m.exec(block.replace(/^Sysroot:.*\nDeployments:\n/, ''));
    const id = /^ +Deployment: (\S+)$/m.exec(block);
    if (head && id) out.push([head[1], head[2] ?? '', id[1]]);
  }
  return out;
}

/**
 * The status of `host` as `env` sees it, with the expected marks. When the
 * machine is booted into `booted`, the real ostree, our `admin status` and
 * our `atomic status` (text and JSON) run in a chroot of it and must agree
 * with the library's document, line for line.
 */
async function expectMarks(host: Host, env: HostEnv, booted: string | null, expected: Marks[], label: string): Promise<HostStatus> {
  const doc = await hostStatus({ sysroot: host.sysroot, env });
  assert.deepEqual(marksOf(doc), expected, `${label}: the status document's marks`);
  assert.equal(doc.booted, booted !== null, `${label}: booted`);
  if (booted === null) {
    const theirs = await ostree('admin', `--sysroot=${host.sysroot}`, 'status');
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(renderAdminStatus(doc), theirs.stdout, `${label}: admin status text`);
    return doc;
  }
  const dir = deployDir(host.sysroot, booted);
  const [theirs, oursAdmin, oursJson, oursText] = await Promise.all([
    chrootOut(host.sysroot, dir, 'ostree', 'admin', 'status'),
    chrootOut(host.sysroot, dir, 'node', CHROOT_CLI, 'admin', 'status'),
    chrootOut(host.sysroot, dir, 'node', CHROOT_ATOMIC, 'status', '--json'),
    chrootOut(host.sysroot, dir, 'node', CHROOT_ATOMIC, 'status'),
  ]);
  assert.match(theirs, /^\* /m, `${label}: the real ostree sees a booted deployment`);
  assert.equal(renderAdminStatus(doc), theirs, `${label}: our admin status text (library) is ostree's`);
  assert.equal(oursAdmin, theirs, `${label}: ostree-ts admin status, booted for real, is ostree's`);
  const real = JSON.parse(oursJson) as HostStatus;
  assert.equal(real.sysroot, '/');
  assert.equal(real.booted, true, `${label}: atomic status --json, booted for real`);
  assert.deepEqual(real.deployments, doc.deployments, `${label}: atomic status --json, booted for real, is the library's document`);
  assert.equal(oursText, renderHostStatus({ ...doc, sysroot: '/' }), `${label}: atomic status text`);
  const bullets = atomicMarks(oursText);
  assert.deepEqual(bullets.map(([b, , id]) => [b, id]), expected.map(([id, m]) => [m.includes('booted') ? '●' : ' ', id]), `${label}: atomic status marks the booted one ●`);
  assert.deepEqual(bullets.map(([, m]) => m), expected.map(([, m]) => m.split(' ').filter((x) => x && x !== 'booted').join(', ')), `${label}: atomic status marks`);
  return doc;
}

test('booted: the booted (*), pending and rollback marks in the status document, admin status and atomic status agree with the real ostree booted into the same deployment', async (t) => {
  if (!(await requireOstree(t)) || !(await canChroot(t))) return;
  const host = await bootableHost(t);
  const v1 = host.v1;
  const id = (c: string): string => `${c}.0`;

  // Not booted: no marks but the default; the text is ostree's.
  const plain = await hostEnv(t);
  await expectMarks(host, plain, null, [[id(v1), 'default']], 'not booted');

  // Booted into v1, the only deployment; by its directory, or named outright: the same document.
  const onV1 = await bootInto(t, host, v1);
  const doc = await expectMarks(host, onV1, v1, [[id(v1), 'booted default']], 'v1 booted');
  const named = await hostEnv(t, { booted: { osname: OS, checksum: v1, serial: 0 } });
  assert.deepEqual(await hostStatus({ sysroot: host.sysroot, env: named }), doc, 'a deployment named outright boots as its directory does');
  // Told it is booted into a directory that is no deployment: nothing is booted.
  assert.equal((await hostStatus({ sysroot: host.sysroot, env: await hostEnv(t, { booted: host.dir }) })).booted, false);

  // v2 deployed while v1 runs: v2 is pending.
  const v2 = await publishVersion(host, 2);
  assert.equal((await upgrade({ sysroot: host.sysroot, env: onV1 })).outcome, 'updated');
  await expectMarks(host, onV1, v1, [[id(v2), 'default pending'], [id(v1), 'booted']], 'v2 pending');

  // v2 pinned, then v3 deployed while v1 still runs: v3 (what boots next) is pending, not v2.
  await pin({ sysroot: host.sysroot, env: onV1, index: 0 });
  const v3 = await publishVersion(host, 3);
  assert.equal((await upgrade({ sysroot: host.sysroot, env: onV1 })).outcome, 'updated');
  await expectMarks(host, onV1, v1, [[id(v3), 'default pending'], [id(v2), 'pinned'], [id(v1), 'booted']], 'v3 pending, v2 pinned');

  // Booted into v2: v3 pending, v1 the rollback.
  await expectMarks(host, await bootInto(t, host, v2), v2, [[id(v3), 'default pending'], [id(v2), 'booted pinned'], [id(v1), 'rollback']], 'v2 booted');
  // Booted into v3: v2 the rollback, v1 nothing.
  await expectMarks(host, await bootInto(t, host, v3), v3, [[id(v3), 'booted default'], [id(v2), 'rollback pinned'], [id(v1), '']], 'v3 booted');
});

test('booted: rollback while booted makes the booted deployment the default again when an update is pending, else the one after it', async (t) => {
  if (!(await requireOstree(t)) || !(await canChroot(t))) return;
  const host = await bootableHost(t);
  const v1 = host.v1;
  const v2 = await publishVersion(host, 2);
  const onV1 = await bootInto(t, host, v1);
  await upgrade({ sysroot: host.sysroot, env: onV1 });
  const ids = async (): Promise<string[]> => (await checkBootInvariants(host.sysroot)).map((d) => d.id);
  assert.deepEqual(await ids(), [`${v2}.0`, `${v1}.0`]);

  // v2 pending, v1 running: rollback cancels the update.
  assert.deepEqual(await rollback({ sysroot: host.sysroot, env: onV1 }), { apiVersion: 'ostree-ts/v1', kind: 'RollbackResult', from: `${v2}.0`, to: `${v1}.0` });
  assert.deepEqual(await ids(), [`${v1}.0`, `${v2}.0`]);
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${v1}.0`, `${v2}.0`], 'the real ostree reads the new order');
  await expectMarks(host, onV1, v1, [[`${v1}.0`, 'booted default'], [`${v2}.0`, 'rollback']], 'update cancelled');

  // v1 running as the default: rollback goes to the one after it.
  assert.equal((await rollback({ sysroot: host.sysroot, env: onV1 })).to, `${v2}.0`);
  await expectMarks(host, onV1, v1, [[`${v2}.0`, 'default pending'], [`${v1}.0`, 'booted']], 'rolled back to v2');

  // Booted into v2, the default: rollback makes v1 the default, v2 still runs.
  const onV2 = await bootInto(t, host, v2);
  assert.equal((await rollback({ sysroot: host.sysroot, env: onV2 })).to, `${v1}.0`);
  await expectMarks(host, onV2, v2, [[`${v1}.0`, 'default pending'], [`${v2}.0`, 'booted']], 'booted v2, v1 default');

  // The booted deployment cannot leave the boot list, and the refusal changes nothing.
  const before = await snapshotSysroot(host.sysroot);
  await assert.rejects(writeList(host.sysroot, onV2, (st) => st.deployments.filter((d) => d.csum !== v2)), { code: 'E_USAGE', message: /booted deployment cannot be removed/ });
  assert.deepEqual(await snapshotSysroot(host.sysroot), before);
});

test('booted: an upgrade while an update is pending keeps the booted deployment, replaces the pending one and merges the booted /etc', async (t) => {
  if (!(await requireOstree(t)) || !(await canChroot(t))) return;
  const host = await bootableHost(t);
  const v1 = host.v1;
  const v2 = await publishVersion(host, 2);
  // v2 deployed on a machine not booted by OSTree (an image build, say): v2 the default, v1 kept.
  await upgrade({ sysroot: host.sysroot, env: await hostEnv(t) });
  // Each deployment's /etc edited its own way.
  await writeFile(path.join(deployDir(host.sysroot, v1), 'etc', 'hostname'), 'booted-host\n');
  await writeFile(path.join(deployDir(host.sysroot, v2), 'etc', 'hostname'), 'pending-host\n');

  // The machine runs v1 (v2 pending); v3 arrives.
  const onV1 = await bootInto(t, host, v1);
  const v3 = await publishVersion(host, 3);
  const r = await upgrade({ sysroot: host.sysroot, env: onV1 });
  assert.equal(r.outcome, 'updated');
  assert.equal(r.from, v1, 'the update starts from what runs');
  assert.equal(r.to, v3);
  assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.id), [`${v3}.0`, `${v1}.0`], 'v3 the default, the booted v1 kept, the pending v2 gone');
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${v3}.0`, `${v1}.0`]);
  await assert.rejects(stat(deployDir(host.sysroot, v2)), { code: 'ENOENT' }, 'v2\'s directory is cleaned up');
  assert.ok((await stat(deployDir(host.sysroot, v1))).isDirectory(), 'v1\'s directory stays');
  assert.equal(await readFile(path.join(deployDir(host.sysroot, v3), 'etc', 'hostname'), 'utf8'), 'booted-host\n', 'the /etc merged is the booted one\'s');
  assert.equal(await ok(ostree('rev-parse', `--repo=${host.repo}`, REFSPEC)), v3, 'the followed ref names v3');
  await expectMarks(host, onV1, v1, [[`${v3}.0`, 'default pending'], [`${v1}.0`, 'booted']], 'v3 pending');

  // Booted into v3 now: the next upgrade keeps v3 and drops v1.
  const onV3 = await bootInto(t, host, v3);
  const v4 = await publishVersion(host, 4);
  assert.equal((await upgrade({ sysroot: host.sysroot, env: onV3 })).from, v3);
  assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.id), [`${v4}.0`, `${v3}.0`]);
  await expectMarks(host, onV3, v3, [[`${v4}.0`, 'default pending'], [`${v3}.0`, 'booted']], 'v4 pending');
});

test('booted: cleanup never removes the booted deployment, even one no boot entry names any more', async (t) => {
  if (!(await requireOstree(t))) return;
  const host = await bootableHost(t);
  const v1 = host.v1;
  const v2 = await publishVersion(host, 2);
  const plain = await hostEnv(t);
  await upgrade({ sysroot: host.sysroot, env: plain });
  const onV1 = await bootInto(t, host, v1);
  const named = await hostEnv(t, { booted: { osname: OS, checksum: v1, serial: 0 } });
  const dirs = async (): Promise<string[]> => (await readdir(path.join(host.sysroot, 'ostree', 'deploy', OS, 'deploy'))).sort();
  const both = [`${v1}.0`, `${v1}.0.origin`, `${v2}.0`, `${v2}.0.origin`].sort();

  assert.deepEqual((await cleanup({ sysroot: host.sysroot, env: onV1 })).deploymentsRemoved, []);
  assert.deepEqual(await dirs(), both);

  // v1 leaves the boot list (written by a host that does not run it), its directory left behind.
  await writeList(host.sysroot, plain, (st) => st.deployments.filter((d) => d.csum !== v1), { noClean: true });
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${v2}.0`]);
  assert.deepEqual(await dirs(), both);
  // A machine running v1 cleans up: v1 is what `/` is, so it stays — named or by its directory.
  for (const [env, how] of [[onV1, 'by its directory'], [named, 'named']] as const) {
    assert.deepEqual((await cleanup({ sysroot: host.sysroot, env })).deploymentsRemoved, [], how);
    assert.deepEqual(await dirs(), both, `${how}: the running deployment and its origin stay`);
  }
  // Any other machine removes it.
  assert.deepEqual((await cleanup({ sysroot: host.sysroot, env: plain })).deploymentsRemoved, [`${OS}/${v1}.0`]);
  assert.deepEqual(await dirs(), [`${v2}.0`, `${v2}.0.origin`]);
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${v2}.0`]);
});
