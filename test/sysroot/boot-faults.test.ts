/**
 * Power cuts in the boot writes on /boot (entry names) and in the grubenv:
 * probation, blessing, and marking failed with the rollback made default
 * are each stopped at every one of their writes in turn. Every state left
 * boots (the firmware's choice is a complete entry; a grubenv is a whole
 * 1024-byte block), the record reads, `ostree admin status` reads the
 * sysroot, and the next run completes with record and boot files agreeing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseGrubenv } from '../../src/format/index.js';
import {
  SysrootFaultReached, SysrootFaults, blessDeployment, checkAssessment, deploymentKey, loadSysroot, makeDefault, markDeploymentFailed,
  readAssessment, simulateFirmwareBoot, startProbation, type BootBackend,
} from '../../src/sysroot/index.js';
import { requireOstree } from '../helpers/env.js';
import { adminVersions, assertAllComplete, assertBootable, bootSysroot, byVersion, deployVersion, type BootSysroot } from '../helpers/boot.js';

interface Op {
  name: string;
  probation: boolean;
  run(s: BootSysroot, b: BootBackend): Promise<unknown>;
  state: 'untested' | 'good' | 'failed';
  order: string[];
}

const OPS: Op[] = [
  { name: 'startProbation', probation: false, run: async (s, b) => startProbation(s.root, s.env, await byVersion(s, '2'), 3, b), state: 'untested', order: ['2', '1'] },
  { name: 'blessDeployment', probation: true, run: async (s, b) => blessDeployment(s.root, s.env, await byVersion(s, '2'), b), state: 'good', order: ['2', '1'] },
  {
    name: 'markDeploymentFailed and makeDefault',
    probation: true,
    run: async (s, b) => {
      await markDeploymentFailed(s.root, s.env, await byVersion(s, '2'), 'did not boot', b);
      await makeDefault(s.root, s.env, await byVersion(s, '1'), b);
    },
    state: 'failed',
    order: ['1', '2'],
  },
];

async function setup(t: TestContext, b: BootBackend, probation: boolean): Promise<BootSysroot> {
  const s = await bootSysroot(t);
  await deployVersion(s, '1');
  const v2 = await deployVersion(s, '2');
  if (probation) {
    await startProbation(s.root, s.env, v2, 3, { kind: b.kind });
    await simulateFirmwareBoot(s.root, { kind: b.kind });
  }
  return s;
}

async function assertSound(s: BootSysroot, b: BootBackend, label: string): Promise<void> {
  await assertAllComplete(s.root, path.join(s.root, 'boot'), label);
  await assertBootable(s.root, path.join(s.root, 'boot'), label);
  if (b.kind === 'grub') {
    const file = path.join(s.root, 'boot', 'grub2', 'grubenv');
    const buf = await readFile(file);
    assert.equal(buf.length, 1024, `${label}: the grubenv is whole`);
    parseGrubenv(buf, file);
  }
  await readAssessment(s.root);
  await adminVersions(s, label);
}

for (const kind of ['bls', 'grub'] as const) {
  for (const op of OPS) {
    test(`${kind}: ${op.name} stopped at each of its writes in turn leaves a bootable sysroot and a readable record; the next run completes`, async (t) => {
      if (!(await requireOstree(t))) return;
      const probe = await setup(t, { kind }, op.probation);
      const count = new SysrootFaults();
      await op.run(probe, { kind, faults: count });
      t.diagnostic(`${kind} ${op.name}: ${count.reached.length} writes: ${count.reached.join(', ')}`);
      assert.ok(count.reached.length >= 2);
      for (let i = 1; i <= count.reached.length; i++) {
        const s = await setup(t, { kind }, op.probation);
        const label = `${kind} ${op.name} stopped at @${i} (${count.reached[i - 1]})`;
        await assert.rejects(op.run(s, { kind, faults: new SysrootFaults([`@${i}`]) }), (e: unknown) => e instanceof SysrootFaultReached, label);
        await assertSound(s, { kind }, label);
        await op.run(s, { kind });
        await assertSound(s, { kind }, `${label}, run again`);
        assert.deepEqual(await adminVersions(s, label), op.order);
        const st = await loadSysroot(s.root, s.env);
        assert.equal(st.assessment?.deployments[deploymentKey(await byVersion(s, '2'))].state, op.state, label);
        assert.deepEqual(await checkAssessment(st, { kind }), [], `${label}: record and boot files agree`);
      }
    });
  }
}
