/**
 * The systemd-boot back end on an EFI system partition (here a plain
 * directory, as FAT offers no more than one: files, directories, renames).
 * Every deployment's kernel, initramfs and entry is copied there and kept in
 * step with /boot/loader; the counters move there first. Each write —
 * the ESP copy of a deploy, probation, blessing, marking failed, making
 * another deployment the default — is stopped at every fault point in turn
 * (`@1`, `@2`, … until it completes): every state left has an entry the
 * firmware would choose whose kernel and initramfs exist and whose ostree=
 * leads to a deployment, `ostree admin status` reads it, and the next run
 * completes.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rename } from 'node:fs/promises';
import * as path from 'node:path';
import {
  SysrootFaultReached, SysrootFaults, blessDeployment, checkAssessment, deploy, loadSysroot, makeDefault, markDeploymentFailed, readAssessment, deploymentKey,
  simulateFirmwareBoot, startProbation, syncBootBackend, type BootBackend,
} from '../../src/sysroot/index.js';
import { ok, ostree, requireOstree } from '../helpers/env.js';
import {
  OS, adminVersions, assertAllComplete, assertBootable, bootEntryNames, bootSysroot, byVersion, commitVersion, deployVersion, type BootSysroot,
} from '../helpers/boot.js';

const ESP = '/boot/efi';

function esp(faults?: SysrootFaults): BootBackend {
  return { kind: 'systemd-boot', esp: ESP, faults };
}

async function listTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

/** The ESP boots exactly what /boot/loader boots: the same entries byte for byte, the files they name, nothing else. */
async function assertInStep(s: BootSysroot, label: string): Promise<void> {
  const espDir = path.join(s.root, ESP);
  const boot = await bootEntryNames(s.root);
  const onEsp = (await readdir(path.join(espDir, 'loader', 'entries'))).sort();
  assert.deepEqual(onEsp, boot, `${label}: the ESP's entries are /boot/loader's`);
  const wanted = new Set<string>();
  for (const n of boot) {
    const text = await readFile(path.join(s.root, 'boot', 'loader', 'entries', n), 'utf8');
    assert.equal(await readFile(path.join(espDir, 'loader', 'entries', n), 'utf8'), text, `${label}: ${n} byte for byte`);
    for (const m of text.matchAll(/^(?:linux|initrd) (\S+)$/gm)) wanted.add(m[1].slice(1));
  }
  assert.deepEqual((await listTree(path.join(espDir, 'ostree'))).map((f) => `ostree/${f}`), [...wanted].sort(), `${label}: the kernels the entries name, and no others`);
  for (const f of wanted) assert.deepEqual(await readFile(path.join(espDir, f)), await readFile(path.join(s.root, 'boot', f)), `${label}: ${f}`);
  assert.match(await readFile(path.join(espDir, 'loader', 'loader.conf'), 'utf8'), /^default ostree-\*$/m);
}

async function assertBootableBoth(s: BootSysroot, label: string, o: { firstCopy?: boolean } = {}): Promise<void> {
  // Never an entry that is half there; and, unless the ESP held nothing before, one the firmware chooses.
  await assertAllComplete(s.root, path.join(s.root, ESP), `${label} (ESP)`);
  if (!o.firstCopy) await assertBootable(s.root, path.join(s.root, ESP), `${label} (ESP)`);
  await assertBootable(s.root, path.join(s.root, 'boot'), `${label} (/boot)`);
  await adminVersions(s, label);
}

test('systemd-boot ESP: deployments, kernels per boot checksum and entries are copied, kept in step, and counted there first', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t, { esp: ESP });
  await deployVersion(s, '1', { boot: esp() });
  await assertInStep(s, 'v1');
  const v2 = await deployVersion(s, '2', { boot: esp(), kernel: 'kernel image 6.1\n' });
  await assertInStep(s, 'v2 beside v1 (two kernels)');
  assert.equal((await listTree(path.join(s.root, ESP, 'ostree'))).length, 4, 'two kernels and two initramfs');
  await startProbation(s.root, s.env, v2, 3, esp());
  await assertInStep(s, 'probation');
  assert.deepEqual(await readdir(path.join(s.root, ESP, 'loader', 'entries')).then((x) => x.sort()), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+3.conf`]);
  const b = await simulateFirmwareBoot(s.root, esp());
  assert.deepEqual([b.deployment.csum, b.triesBefore, b.triesAfter, b.entry], [v2.csum, 3, 2, `ostree-2-${OS}+3.conf`]);
  await assertInStep(s, 'after a boot (the emulation mirrors the rename)');
  // A firmware rename the emulation did not mirror: the ESP's counter wins at the next write.
  const entries = path.join(s.root, ESP, 'loader', 'entries');
  await rename(path.join(entries, `ostree-2-${OS}+2-1.conf`), path.join(entries, `ostree-2-${OS}+1-2.conf`));
  const v3 = await deployVersion(s, '3', { boot: esp(), retain: true });
  await assertInStep(s, 'v3 deployed');
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+1-2.conf`, `ostree-3-${OS}.conf`], 'v2 kept the firmware\'s +1-2');
  await markDeploymentFailed(s.root, s.env, await byVersion(s, '2'), 'did not boot', esp());
  await makeDefault(s.root, s.env, await byVersion(s, '1'), esp());
  await assertInStep(s, 'v1 default again');
  assert.deepEqual(await adminVersions(s, 'v1 default'), ['1', '3', '2']);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}+0-2.conf`, `ostree-2-${OS}.conf`, `ostree-3-${OS}.conf`]);
  const again = await simulateFirmwareBoot(s.root, esp());
  assert.equal(again.deployment.csum, s.commits.get('1'));
  void v3;
});

interface Op {
  name: string;
  /** A fresh sysroot at the state the operation starts from. */
  setup(t: TestContext): Promise<BootSysroot>;
  run(s: BootSysroot, faults?: SysrootFaults): Promise<unknown>;
  /** The ESP holds nothing bootable before it (so a stop may leave it empty, never half written). */
  firstCopy?: boolean;
  /** The next run after a stop (default: run again). */
  again?(s: BootSysroot): Promise<unknown>;
  /** What must hold once it has completed. */
  done(s: BootSysroot): Promise<void>;
}

async function twoDeployed(t: TestContext, probation: boolean): Promise<BootSysroot> {
  const s = await bootSysroot(t, { esp: ESP });
  await deployVersion(s, '1', { boot: esp() });
  const v2 = await deployVersion(s, '2', { boot: esp(), kernel: 'kernel image 6.1\n' });
  if (probation) {
    await startProbation(s.root, s.env, v2, 3, esp());
    await simulateFirmwareBoot(s.root, esp());
  }
  return s;
}

const OPS: Op[] = [
  {
    name: 'the ESP copy of a deploy (new kernel, entries rewritten)',
    async setup(t) {
      const s = await bootSysroot(t, { esp: ESP });
      await deployVersion(s, '1', { boot: esp() });
      await commitVersion(s, '2', { kernel: 'kernel image 6.1\n' });
      return s;
    },
    run: (s, faults) => deploy(s.root, s.env, { osname: OS, revision: s.commits.get('2')!, boot: esp(faults) }),
    // The deployment list is written; what comes next is the ESP's sync (at boot, or the next write).
    again: (s) => syncBootBackend(s.root, s.env, esp()),
    async done(s) {
      assert.deepEqual(await adminVersions(s, 'deployed'), ['2', '1']);
    },
  },
  {
    name: 'the first ESP copy (loader.conf written)',
    firstCopy: true,
    async setup(t) {
      const s = await bootSysroot(t, { esp: ESP });
      await deployVersion(s, '1');
      return s;
    },
    run: (s, faults) => syncBootBackend(s.root, s.env, esp(faults)),
    async done(s) {
      assert.deepEqual(await adminVersions(s, 'synced'), ['1']);
    },
  },
  {
    name: 'the ESP copy of a deploy that drops a deployment and its kernel',
    async setup(t) {
      const s = await bootSysroot(t, { esp: ESP });
      await deployVersion(s, '1', { boot: esp() });
      await deployVersion(s, '2', { boot: esp(), kernel: 'kernel image 6.1\n' });
      await commitVersion(s, '3', { kernel: 'kernel image 6.2\n' });
      return s;
    },
    run: (s, faults) => deploy(s.root, s.env, { osname: OS, revision: s.commits.get('3')!, boot: esp(faults) }),
    again: (s) => syncBootBackend(s.root, s.env, esp()),
    async done(s) {
      assert.deepEqual(await adminVersions(s, 'deployed'), ['3', '2']);
    },
  },
  {
    name: 'startProbation',
    setup: (t) => twoDeployed(t, false),
    run: async (s, faults) => startProbation(s.root, s.env, await byVersion(s, '2'), 3, esp(faults)),
    async done(s) {
      assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+3.conf`]);
      assert.equal((await readAssessment(s.root)).deployments[deploymentKey(await byVersion(s, '2'))].state, 'untested');
    },
  },
  {
    name: 'blessDeployment',
    setup: (t) => twoDeployed(t, true),
    run: async (s, faults) => blessDeployment(s.root, s.env, await byVersion(s, '2'), esp(faults)),
    async done(s) {
      assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}.conf`]);
      assert.equal((await readAssessment(s.root)).deployments[deploymentKey(await byVersion(s, '2'))].state, 'good');
    },
  },
  {
    name: 'markDeploymentFailed, then makeDefault of the rollback',
    setup: (t) => twoDeployed(t, true),
    run: async (s, faults) => {
      await markDeploymentFailed(s.root, s.env, await byVersion(s, '2'), 'did not boot', esp(faults));
      await makeDefault(s.root, s.env, await byVersion(s, '1'), esp(faults));
    },
    async done(s) {
      assert.deepEqual(await adminVersions(s, 'reconciled'), ['1', '2']);
      assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}+0-1.conf`, `ostree-2-${OS}.conf`]);
      assert.equal((await readAssessment(s.root)).deployments[deploymentKey(await byVersion(s, '2'))].state, 'failed');
    },
  },
];

for (const op of OPS) {
  test(`systemd-boot ESP: ${op.name}, stopped at each of its writes in turn, is bootable at every stop and completed by the next run`, async (t) => {
    if (!(await requireOstree(t))) return;
    // How many fault points a run passes.
    const probe = await op.setup(t);
    const count = new SysrootFaults();
    await op.run(probe, count);
    await op.done(probe);
    await syncBootBackend(probe.root, probe.env, esp());
    await assertInStep(probe, `${op.name}, uninterrupted`);
    assert.ok(count.reached.length >= 1, `${op.name} passes fault points: ${count.reached.join(', ')}`);
    t.diagnostic(`${op.name}: ${count.reached.length} writes: ${count.reached.join(', ')}`);
    for (let i = 1; i <= count.reached.length; i++) {
      const s = await op.setup(t);
      const label = `${op.name} stopped at @${i} (${count.reached[i - 1]})`;
      await assert.rejects(op.run(s, new SysrootFaults([`@${i}`])), (e: unknown) => e instanceof SysrootFaultReached && e.index === i, label);
      await assertBootableBoth(s, label, { firstCopy: op.firstCopy });
      await loadSysroot(s.root, s.env);
      // The next run completes, and leaves the ESP in step.
      await (op.again ? op.again(s) : op.run(s));
      await op.done(s);
      await syncBootBackend(s.root, s.env, esp());
      await assertInStep(s, `${label}, then run again`);
      await assertBootableBoth(s, `${label}, then run again`);
    }
  });
}

test('systemd-boot ESP: a power cut after /boot switched but before the ESP was written leaves the old entries bootable, and the next sync completes', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t, { esp: ESP });
  await deployVersion(s, '1', { boot: esp() });
  const v2 = await commitVersion(s, '2', { kernel: 'kernel image 6.1\n' });
  // The write of /boot without the ESP, and no cleanup yet: what the cut leaves.
  await deploy(s.root, s.env, { osname: OS, revision: v2, noClean: true });
  assert.equal(await assertBootable(s.root, path.join(s.root, ESP), 'stale ESP'), `ostree-1-${OS}.conf`);
  await syncBootBackend(s.root, s.env, esp());
  await assertInStep(s, 'synced');
  await assertBootableBoth(s, 'synced');
});

test('systemd-boot ESP: after the real ostree admin deploy changed /boot/loader, the record notices the ESP is behind, and a sync repairs it', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t, { esp: ESP });
  await deployVersion(s, '1', { boot: esp() });
  const v2 = await commitVersion(s, '2', { kernel: 'kernel image 6.1\n' });
  assert.deepEqual(await checkAssessment(await loadSysroot(s.root, s.env), esp()), []);
  await ok(ostree('admin', `--sysroot=${s.root}`, 'deploy', `--os=${OS}`, v2), 'ostree admin deploy');
  const notes = await checkAssessment(await loadSysroot(s.root, s.env), esp());
  assert.equal(notes.length, 1, notes.join('\n'));
  assert.match(notes[0], /EFI system partition is not in step with \/boot\/loader/);
  assert.match(notes[0], new RegExp(`entry ostree-2-${OS}.conf is missing on the ESP`));
  await syncBootBackend(s.root, s.env, esp());
  await assertInStep(s, 'synced after ostree admin deploy');
  await assertBootableBoth(s, 'synced after ostree admin deploy');
  assert.deepEqual(await checkAssessment(await loadSysroot(s.root, s.env), esp()), []);
});
