/**
 * Boot assessment, what must be refused and what other tools may do:
 * a bad atomic.conf, a grubenv that is not one (size, header) and a health
 * check that is not executable are refused with the file named and nothing
 * changed; the real `ostree admin deploy` and `cleanup` on a sysroot with a
 * deployment on probation leave the record readable, and `atomic status`
 * says where the entries and the record no longer agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { healthCheck } from '../../src/host/health-check.js';
import { hostEnv } from '../helpers/booted.js';
import { ok, ostree, requireOstree, tempDir, type RunResult } from '../helpers/env.js';
import { atomic, checkBootInvariants, makeHost, makeOsTree, ostreeStatus, publish, snapshotSysroot, OS } from '../helpers/host.js';
import { putFile } from '../helpers/trees.js';

const OK = '#!/bin/sh\necho fine\n';

function out(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The record's bytes (null when there is none): what "nothing changed" covers beside the sysroot. */
async function recordBytes(sysroot: string): Promise<string | null> {
  return readFile(path.join(sysroot, 'ostree', 'atomic', 'assessment.json'), 'utf8').catch(() => null);
}

test('bad atomic.conf, a grubenv of the wrong size or header: upgrade, rollback and simulate-boot refuse naming the file; nothing changed', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-assess-bad-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1', etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-ok.sh', OK, 0o755) } });
  const S = host.sysroot;
  out(await atomic(`--sysroot=${S}`, 'simulate-boot'), 'first boot');
  await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  const conf = path.join(S, 'etc', 'ostree-ts', 'atomic.conf');
  const unchanged = async (label: string, before: { snap: unknown; record: string | null }): Promise<void> => {
    assert.deepEqual(await snapshotSysroot(S), before.snap, `${label}: the sysroot is as it was`);
    assert.equal(await recordBytes(S), before.record, `${label}: the record is as it was`);
  };
  const state = async (): Promise<{ snap: unknown; record: string | null }> => ({ snap: await snapshotSysroot(S), record: await recordBytes(S) });

  for (const [text, re] of [
    ['[boot]\ntries=abc\n', /\[boot\] tries=abc is not allowed: it must be a whole number of boot attempts from 0 to 99\. Fix that line; nothing was changed\./],
    ['[boot]\nbackend=lilo\n', /\[boot\] backend=lilo is not allowed: it must be one of bls, grub, systemd-boot\./],
    ['[health-check]\ntimeout=forever\n', /\[health-check\] timeout=forever is not allowed/],
  ] as Array<[string, RegExp]>) {
    await putFile(S, 'etc/ostree-ts/atomic.conf', text);
    const before = await state();
    for (const verb of [['upgrade'], ['simulate-boot'], ['rollback']]) {
      const r = await atomic(`--sysroot=${S}`, ...verb);
      assert.equal(r.code, 1, `${verb[0]} with ${JSON.stringify(text)}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`error: ${conf}: `), `${verb[0]}: the error names ${conf}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      await unchanged(`${verb[0]} with ${JSON.stringify(text)}`, before);
    }
  }

  // GRUB's environment block must be exactly 1024 bytes with its header.
  await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=grub\n');
  const grubenv = path.join(S, 'boot', 'grub2', 'grubenv');
  await mkdir(path.dirname(grubenv), { recursive: true });
  const good = Buffer.alloc(1024, '#');
  Buffer.from('# GRUB Environment Block\nboot_success=1\n').copy(good);
  for (const [label, bytes] of [
    ['1000 bytes', good.subarray(0, 1000)],
    ['a bad header', Buffer.concat([Buffer.from('# GRUB Environment Blok\n'), good.subarray(24)])],
  ] as Array<[string, Buffer]>) {
    await writeFile(grubenv, bytes);
    const before = await state();
    for (const verb of ['upgrade', 'simulate-boot']) {
      const r = await atomic(`--sysroot=${S}`, verb);
      assert.equal(r.code, 1, `${verb} with a grubenv of ${label}: ${r.stderr}`);
      assert.ok(r.stderr.includes(grubenv), `${verb} with a grubenv of ${label}: the error names ${grubenv}: ${r.stderr}`);
      await unchanged(`${verb} with a grubenv of ${label}`, before);
      assert.deepEqual(await readFile(grubenv), bytes, `${verb}: the grubenv is as it was`);
    }
  }
  await writeFile(grubenv, good);
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade with a good grubenv');
  assert.equal((await ostreeStatus(S)).length, 2);
});

test('a health check that is not executable is refused naming it, before any check runs; nothing changed', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-assess-noexec-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1', etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-ok.sh', OK, 0o755) } });
  const S = host.sysroot;
  const d1 = path.join(S, 'ostree', 'deploy', OS, 'deploy', `${host.v1}.0`);
  const ran = path.join(dir, 'ran');
  await putFile(d1, 'etc/greenboot/check/required.d/05-first.sh', `#!/bin/sh\ntouch ${ran}\n`, 0o755);
  await putFile(d1, 'etc/greenboot/check/wanted.d/50-plain.sh', '#!/bin/sh\nexit 0\n', 0o644);
  const before = { snap: await snapshotSysroot(S), record: await recordBytes(S) };
  const env = await hostEnv(t, { booted: { osname: OS, checksum: host.v1, serial: 0 } });
  await assert.rejects(healthCheck({ sysroot: S, env }), (e: Error & { code?: string; data?: Record<string, unknown> }) => {
    assert.equal(e.code, 'E_HEALTH_CHECK');
    assert.equal(e.data?.file, path.join(d1, 'etc/greenboot/check/wanted.d/50-plain.sh'));
    assert.match(e.message, /etc\/greenboot\/check\/wanted\.d\/50-plain\.sh .* is not executable \(mode 0644\)\. Make it executable \(chmod \+x\) or remove it; no check was run\./);
    return true;
  });
  assert.equal(await readFile(ran).then(() => true, () => false), false, 'no check ran');
  assert.deepEqual(await snapshotSysroot(S), before.snap);
  assert.equal(await recordBytes(S), before.record);
  // The same through the command.
  const r = await atomic(`--sysroot=${S}`, 'simulate-boot');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: The health check etc\/greenboot\/check\/wanted\.d\/50-plain\.sh in .* is not executable/);
  assert.equal(await recordBytes(S), before.record, 'the record is as it was');
});

test('the real ostree admin deploy and cleanup on a sysroot with a deployment on probation: the record stays readable and atomic status says what no longer agrees', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-assess-ostree-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1', etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-ok.sh', OK, 0o755) } });
  const S = host.sysroot;
  out(await atomic(`--sysroot=${S}`, 'simulate-boot'), 'first boot');
  const c2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade');
  const status = async (): Promise<{ deployments: Array<{ id: string; assessment: { state: string; triesLeft: number | null } }>; assessmentNotes: string[] }> =>
    JSON.parse(out(await atomic(`--sysroot=${S}`, 'status', '--json'), 'status')) as never;
  let st = await status();
  assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state, d.assessment.triesLeft]), [[`${c2}.0`, 'untested', 3], [`${host.v1}.0`, 'good', null]]);
  assert.deepEqual(st.assessmentNotes, []);

  // libostree 2022.7 knows no counters: its deploy rewrites every entry without one.
  await ok(ostree('admin', `--sysroot=${S}`, 'deploy', `--os=${OS}`, '--retain', 'origin:os/stable'), 'ostree admin deploy');
  await ok(ostree('admin', `--sysroot=${S}`, 'cleanup'), 'ostree admin cleanup');
  const ids = await ostreeStatus(S);
  assert.deepEqual(ids, [`${c2}.1`, `${c2}.0`, `${host.v1}.0`]);
  await checkBootInvariants(S);
  assert.notEqual(await recordBytes(S), null, 'the record survives ostree admin cleanup');
  st = await status();
  assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state]), [[`${c2}.1`, 'unknown'], [`${c2}.0`, 'untested'], [`${host.v1}.0`, 'good']]);
  assert.ok(st.assessmentNotes.some((n) => n.includes(`${OS}/${c2}.0`) && /another tool rewrote the boot configuration/.test(n)),
    `status notices the lost counter: ${JSON.stringify(st.assessmentNotes)}`);
  // The next boot still works: the new default (unknown, uncounted) boots and is blessed by its checks.
  const b = JSON.parse(out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--json'), 'simulate-boot')) as { deployment: string; verdict: string };
  assert.deepEqual([b.deployment, b.verdict], [`${c2}.1`, 'pass']);
  assert.deepEqual(await ostreeStatus(S), ids);
});

test('an update whose probation never reached the record (a cut right after the switch) still falls back once its counted tries are spent', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-assess-norecord-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1', etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-ok.sh', OK, 0o755) } });
  const S = host.sysroot;
  out(await atomic(`--sysroot=${S}`, 'simulate-boot'), 'first boot');
  const c2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade');
  // As if the power went between the switch (its entry written +3) and the record of its probation.
  const file = path.join(S, 'ostree', 'atomic', 'assessment.json');
  const rec = JSON.parse(await readFile(file, 'utf8')) as { deployments: Record<string, unknown> };
  delete rec.deployments[`${OS}/${c2}.0`];
  await writeFile(file, `${JSON.stringify(rec, null, 2)}\n`);
  for (let i = 0; i < 3; i++) out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--fail-boot'), 'failed boot');
  const b = JSON.parse(out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--json'), 'boot')) as { deployment: string; reconcile: { action: string; reason: string } };
  assert.equal(b.deployment, `${host.v1}.0`);
  assert.deepEqual([b.reconcile.action, b.reconcile.reason], ['fell-back', 'did not boot: the bootloader fell back once its tries were spent']);
  assert.deepEqual(await ostreeStatus(S), [`${host.v1}.0`, `${c2}.0`]);
});
