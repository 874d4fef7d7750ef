/**
 * Probation, blessing and failure on a real sysroot, for both forms of boot
 * counting: entry names (bls, as systemd-boot counts on /boot) and greenboot's
 * grubenv. The firmware's boots are emulated (simulateFirmwareBoot); the real
 * `ostree admin status` reads the sysroot after every step, and the real
 * `ostree admin deploy` and `cleanup` run on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../../src/errors/index.js';
import { parseGrubenv, serializeGrubenv } from '../../src/format/index.js';
import {
  ASSESSMENT_FILE, SysrootFaults, assessDeployments, blessDeployment, checkAssessment, deploy, deploymentKey, loadSysroot, makeDefault, markDeploymentFailed,
  readAssessment, recordBootAttempt, simulateFirmwareBoot, startProbation, type BootBackend,
} from '../../src/sysroot/index.js';
import { ok, ostree, requireOstree, requireTool, run } from '../helpers/env.js';
import { OS, adminVersions, assertBootable, bootEntryNames, bootSysroot, byVersion, commitVersion, deployVersion } from '../helpers/boot.js';

const BLS: BootBackend = { kind: 'bls' };
const GRUB: BootBackend = { kind: 'grub' };

test('bls: v2 on probation is tried exactly 3 times (+3 → +2-1 → +1-2 → +0-3), then v1 boots; failed and made default, v2 keeps +0-3', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  const v1 = await deployVersion(s, '1');
  await startProbation(s.root, s.env, v1, 3, BLS);
  const first = await simulateFirmwareBoot(s.root, BLS);
  assert.equal(first.deployment.csum, v1.csum);
  await blessDeployment(s.root, s.env, first.deployment, BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`], 'v1 blessed: no counter');
  assert.deepEqual(await adminVersions(s, 'v1 blessed'), ['1']);

  const v2 = await deployVersion(s, '2');
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}.conf`], 'a new deployment is written without a counter');
  await startProbation(s.root, s.env, v2, 3, BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+3.conf`], 'only the new default carries a counter');
  assert.deepEqual(await adminVersions(s, 'probation'), ['2', '1'], 'ostree reads the counted entry; v2 is the default');
  let rec = await readAssessment(s.root);
  assert.deepEqual({ ...rec.deployments[deploymentKey(v2)], since: 'x' }, { state: 'untested', tries: 3, since: 'x', attempts: [] });
  assert.equal(rec.deployments[deploymentKey(v1)].state, 'good');

  const seen: string[] = [];
  for (const [before, after, name] of [[3, 2, '+2-1'], [2, 1, '+1-2'], [1, 0, '+0-3']] as const) {
    const b = await simulateFirmwareBoot(s.root, BLS);
    assert.equal(b.deployment.csum, v2.csum, `with ${before} tries left v2 boots`);
    assert.equal(b.fellBack, false);
    assert.equal(b.triesBefore, before);
    assert.equal(b.triesAfter, after);
    assert.equal(b.deployment.entryFile, `ostree-2-${OS}${name}.conf`, 'renamed before it boots');
    seen.push(b.entry);
    assert.deepEqual(await adminVersions(s, `boot with ${before} left`), ['2', '1']);
    assert.equal((await loadSysroot(s.root, s.env)).deployments[0].bootCounter?.left, after, 'loadSysroot reads the counter');
  }
  assert.deepEqual(seen, [`ostree-2-${OS}+3.conf`, `ostree-2-${OS}+2-1.conf`, `ostree-2-${OS}+1-2.conf`]);
  const fallback = await simulateFirmwareBoot(s.root, BLS);
  assert.equal(fallback.deployment.csum, v1.csum, 'no tries left: the entry sorts last and v1 boots');
  assert.equal(fallback.fellBack, true);
  assert.equal(fallback.triesBefore, null);
  assert.equal(fallback.entry, `ostree-1-${OS}.conf`);

  await markDeploymentFailed(s.root, s.env, v2, 'did not boot', BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+0-3.conf`], 'already +0-3: bad keeps it');
  await makeDefault(s.root, s.env, v1, BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}+0-3.conf`, `ostree-2-${OS}.conf`], 'the rewrite keeps v2\'s counter on its new entry');
  assert.deepEqual(await adminVersions(s, 'after reconcile'), ['1', '2']);
  rec = await readAssessment(s.root);
  assert.equal(rec.deployments[deploymentKey(v2)].state, 'failed');
  assert.equal(rec.deployments[deploymentKey(v2)].reason, 'did not boot');
  const again = await simulateFirmwareBoot(s.root, BLS);
  assert.equal(again.deployment.csum, v1.csum, 'v1 boots from now on');
  assert.equal(again.fellBack, false);
  const view = await assessDeployments(await loadSysroot(s.root, s.env), BLS);
  assert.deepEqual(view.map((v) => [v.state, v.triesLeft]), [['good', null], ['failed', 0]]);
  assert.deepEqual(await checkAssessment(await loadSysroot(s.root, s.env), BLS), [], 'record and names agree');

  // v3, good: blessed on its first boot; v1 kept as the rollback.
  const v3 = await deployVersion(s, '3');
  await startProbation(s.root, s.env, v3, 3, BLS);
  const b3 = await simulateFirmwareBoot(s.root, BLS);
  assert.equal(b3.deployment.csum, v3.csum);
  await blessDeployment(s.root, s.env, b3.deployment, BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}.conf`], 'v3 (now ostree-2, beside v1) renamed without counter');
  assert.deepEqual((await adminVersions(s, 'v3 blessed')).slice(0, 2), ['3', '1']);
  assert.equal((await readAssessment(s.root)).deployments[deploymentKey(v3)].state, 'good');
  await assertBootable(s.root, path.join(s.root, 'boot'), 'v3 blessed');
});

test('grub: boot_counter 3 → 2 → 1 → 0, then the second entry boots with boot_counter=-1; bless sets boot_success=1 and unsets the counter', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  const grubenv = path.join(s.root, 'boot', 'grub2', 'grubenv');
  const vars = async (): Promise<Record<string, string>> => Object.fromEntries(parseGrubenv(await readFile(grubenv), grubenv));
  await deployVersion(s, '1');
  const v2 = await deployVersion(s, '2');
  await startProbation(s.root, s.env, v2, 3, GRUB);
  assert.deepEqual(await vars(), { boot_counter: '3', boot_success: '0' });
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}.conf`], 'grub: the names carry no counter');
  assert.equal((await readFile(grubenv)).length, 1024);
  if (await requireTool(t, 'grub-editenv', 'grub-common')) {
    assert.equal(await ok(run('grub-editenv', [grubenv, 'list']), 'grub-editenv list'), 'boot_counter=3\nboot_success=0', 'GRUB\'s own tool reads it');
  }
  for (const [before, after] of [[3, 2], [2, 1], [1, 0]]) {
    const b = await simulateFirmwareBoot(s.root, GRUB);
    assert.deepEqual([b.deployment.csum, b.triesBefore, b.triesAfter, b.fellBack], [v2.csum, before, after, false]);
    assert.deepEqual(await vars(), { boot_counter: String(after), boot_success: '0' });
    assert.deepEqual(await adminVersions(s, `grub boot ${before}`), ['2', '1']);
  }
  const fb = await simulateFirmwareBoot(s.root, GRUB);
  assert.deepEqual([fb.deployment.csum, fb.triesBefore, fb.triesAfter, fb.fellBack], [s.commits.get('1'), 0, -1, true]);
  assert.deepEqual(await vars(), { boot_counter: '-1', boot_success: '0' }, 'greenboot\'s mark that a fallback happened');
  const st = await loadSysroot(s.root, s.env);
  assert.deepEqual((await assessDeployments(st, GRUB)).map((v) => [v.state, v.triesLeft]), [['untested', -1], ['unknown', null]]);
  await markDeploymentFailed(s.root, s.env, v2, 'required check 10-fail.sh failed', GRUB);
  await makeDefault(s.root, s.env, await byVersion(s, '1'), GRUB);
  assert.deepEqual(await adminVersions(s, 'grub reconciled'), ['1', '2']);
  assert.equal((await vars()).boot_counter, undefined, 'a good default boots uncounted');
  const next = await simulateFirmwareBoot(s.root, GRUB);
  assert.deepEqual([next.deployment.csum, next.triesBefore, next.fellBack], [s.commits.get('1'), null, false]);

  const v3 = await deployVersion(s, '3');
  await startProbation(s.root, s.env, v3, 2, GRUB);
  const b3 = await simulateFirmwareBoot(s.root, GRUB);
  assert.deepEqual([b3.deployment.csum, b3.triesBefore, b3.triesAfter], [v3.csum, 2, 1]);
  await blessDeployment(s.root, s.env, b3.deployment, GRUB);
  assert.deepEqual(await vars(), { boot_success: '1' });
  assert.equal((await readAssessment(s.root)).deployments[deploymentKey(v3)].state, 'good');
  assert.deepEqual((await adminVersions(s, 'grub v3 blessed')).slice(0, 2), ['3', '1']);
});

test('grub: a grubenv that is not 1024 bytes or has a bad header is refused naming the file, and nothing is changed', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  const v1 = await deployVersion(s, '1');
  const grubenv = path.join(s.root, 'boot', 'grub2', 'grubenv');
  await mkdir(path.dirname(grubenv), { recursive: true });
  for (const bytes of [Buffer.from('# GRUB Environment Block\nboot_counter=3\n'), Buffer.alloc(1024, '#')]) {
    await writeFile(grubenv, bytes);
    await assert.rejects(startProbation(s.root, s.env, v1, 3, GRUB), (e: unknown) => {
      assert.ok(e instanceof OstreeTsError);
      assert.equal(e.code, Codes.SYSROOT_INVALID);
      assert.ok(e.message.includes(grubenv), e.message);
      return true;
    });
    assert.deepEqual(await readFile(grubenv), bytes, 'the grubenv is as it was');
    assert.equal((await readAssessment(s.root)).deployments[deploymentKey(v1)], undefined, 'the record is as it was');
    await assert.rejects(simulateFirmwareBoot(s.root, GRUB), /not a GRUB environment block/);
  }
  await writeFile(grubenv, serializeGrubenv(new Map([['saved_entry', 'x']])));
  await startProbation(s.root, s.env, v1, 3, GRUB);
  assert.deepEqual([...parseGrubenv(await readFile(grubenv), grubenv)], [['saved_entry', 'x'], ['boot_counter', '3'], ['boot_success', '0']], 'other variables are kept');
});

test('a list write keeps each entry\'s +L-D; the real ostree admin cleanup keeps counters and record; the real ostree admin deploy drops the counters, and the record notices', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  await deployVersion(s, '1');
  const v2 = await deployVersion(s, '2');
  await startProbation(s.root, s.env, v2, 3, BLS);
  await simulateFirmwareBoot(s.root, BLS);
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+2-1.conf`]);
  // Our deploy of v3 rewrites every entry (a new boot version): v2's moves to index 2 with its +2-1.
  await deployVersion(s, '3', { retain: true });
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+2-1.conf`, `ostree-3-${OS}.conf`]);
  const record = await readFile(path.join(s.root, ASSESSMENT_FILE), 'utf8');

  await ok(ostree('admin', `--sysroot=${s.root}`, 'cleanup'), 'ostree admin cleanup');
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+2-1.conf`, `ostree-3-${OS}.conf`], 'cleanup renames nothing');
  assert.equal(await readFile(path.join(s.root, ASSESSMENT_FILE), 'utf8'), record, 'cleanup leaves the record');
  let st = await loadSysroot(s.root, s.env);
  assert.deepEqual(st.deployments.map((d) => d.bootCounter), [null, { left: 2, done: 1 }, null]);
  assert.equal(st.assessment?.deployments[deploymentKey(v2)].state, 'untested');
  assert.deepEqual(await checkAssessment(st, BLS), []);

  // The real ostree (2022.7) knows no counters: its deploy writes every entry without one.
  const v4 = await commitVersion(s, '4');
  await ok(ostree('admin', `--sysroot=${s.root}`, 'deploy', `--os=${OS}`, '--retain', v4), 'ostree admin deploy');
  assert.deepEqual(await bootEntryNames(s.root), [1, 2, 3, 4].map((i) => `ostree-${i}-${OS}.conf`));
  assert.equal(await readFile(path.join(s.root, ASSESSMENT_FILE), 'utf8'), record, 'ostree leaves the record');
  st = await loadSysroot(s.root, s.env);
  const notes = await checkAssessment(st, BLS);
  assert.equal(notes.length, 1, notes.join('\n'));
  assert.match(notes[0], new RegExp(`${deploymentKey(v2)} is on probation in the boot assessment record, but its boot entry ostree-2-${OS}.conf carries no counter`));
  assert.match(notes[0], /ostree admin deploy/);
  // Starting its probation again repairs it.
  await startProbation(s.root, s.env, await byVersion(s, '2'), 2, BLS);
  assert.deepEqual(await checkAssessment(await loadSysroot(s.root, s.env), BLS), []);
  assert.deepEqual(await adminVersions(s, 'after repair'), ['4', '3', '2', '1']);
});

test('a damaged record is reported by loadSysroot, refused by writers naming the file, and nothing is changed', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  const v1 = await deployVersion(s, '1');
  const file = path.join(s.root, ASSESSMENT_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  for (const text of ['{"version": 1, "deployments": {', '{"version": 2, "deployments": {}, "quarantine": []}', '{"version":1,"deployments":{"x":{}},"quarantine":[]}']) {
    await writeFile(file, text);
    const st = await loadSysroot(s.root, s.env);
    assert.ok(st.assessmentProblem?.includes(file), `loadSysroot reports it: ${st.assessmentProblem}`);
    assert.deepEqual(st.assessment?.deployments, {});
    await assert.rejects(startProbation(s.root, s.env, v1, 3, BLS), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.SYSROOT_INVALID && e.message.includes(file));
    assert.equal(await readFile(file, 'utf8'), text);
  }
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`], 'no entry was renamed');
});

test('a deployment written counted from the start (bootCounter), then recorded; boot attempts are kept with their checks', async (t) => {
  if (!(await requireOstree(t))) return;
  const s = await bootSysroot(t);
  await deployVersion(s, '1');
  const csum = await commitVersion(s, '2');
  await deploy(s.root, s.env, { osname: OS, revision: csum, bootCounter: { left: 3, done: 0 } });
  assert.deepEqual(await bootEntryNames(s.root), [`ostree-1-${OS}.conf`, `ostree-2-${OS}+3.conf`], 'counted as it is written');
  const v2 = await byVersion(s, '2');
  assert.deepEqual(v2.bootCounter, { left: 3, done: 0 });
  const faults = new SysrootFaults();
  await startProbation(s.root, s.env, v2, 3, { kind: 'bls', faults });
  assert.deepEqual(faults.reached, ['record'], 'no rename left to do');
  assert.deepEqual(await adminVersions(s, 'counted deploy'), ['2', '1']);
  const check = { name: '10-net.sh', class: 'required' as const, result: 'fail' as const, seconds: 0.5, output: 'no route to host\n' };
  await recordBootAttempt(s.root, s.env, v2, { verdict: 'fail', checks: [check] });
  await recordBootAttempt(s.root, s.env, v2, { verdict: 'did-not-boot' });
  const r = (await readAssessment(s.root)).deployments[deploymentKey(v2)];
  assert.equal(r.state, 'untested', 'an attempt does not change the state');
  assert.deepEqual(r.checks, [check], 'the last checks run');
  assert.deepEqual(r.attempts?.map((a) => [a.verdict, a.checks?.length ?? 0]), [['fail', 1], ['did-not-boot', 0]]);
});
