/**
 * `atomic bless good|bad|indeterminate|status` (systemd-bless-boot's verbs)
 * on the booted deployment: v1 is deployed and blessed, v2 deployed with 3
 * tries and booted once by the firmware (its entry renamed +2-1, the EFI
 * variable LoaderBootCountPath naming that name); then each verb, read back
 * from the entries on /boot/loader and the ESP, the record, and the real
 * `ostree admin status`.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeEfiStringVariable, LOADER_VENDOR_GUID, parseGrubenv } from '../../src/format/index.js';
import { bless } from '../../src/host/bless.js';
import type { HostEnv } from '../../src/io/index.js';
import { hostEnv } from '../helpers/booted.js';
import { requireOstree, tempDir, type RunResult } from '../helpers/env.js';
import { atomic, checkBootInvariants, makeHost, makeOsTree, ostreeStatus, publish } from '../helpers/host.js';
import { putFile } from '../helpers/trees.js';

function out(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** v1 blessed, v2 the default with 3 tries, booted once by the firmware (tries spent: 1). */
async function onV2(t: TestContext, backend: 'systemd-boot' | 'grub') {
  const dir = await tempDir(t, 'ots-bless-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1' } });
  const S = host.sysroot;
  if (backend === 'systemd-boot') {
    await mkdir(path.join(S, 'boot', 'efi'), { recursive: true });
    await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=systemd-boot\nesp=/boot/efi\n');
  } else await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=grub\n');
  out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--json'), 'boot v1');
  const c2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
  const fw = JSON.parse(out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--json', '--fail-boot'), 'the firmware boots v2')) as { deployment: string; triesAfter: number };
  assert.deepEqual(fw, { ...fw, deployment: `${c2}.0`, triesAfter: 2 });
  const base = await hostEnv(t, { booted: { osname: 'testos', checksum: c2, serial: 0 } });
  const withVar = (value: string | null): HostEnv => ({
    ...base,
    efiVariable: async (name) => (name === `LoaderBootCountPath-${LOADER_VENDOR_GUID}` && value !== null ? encodeEfiStringVariable(value) : null),
  });
  const entries = async (): Promise<{ boot: string[]; esp: string[] }> => ({
    boot: (await checkBootInvariants(S)).map((d) => d.entry),
    esp: backend === 'systemd-boot' ? (await readdir(path.join(S, 'boot', 'efi', 'loader', 'entries'))).filter((n) => n.endsWith('.conf')).sort() : [],
  });
  const state = async (): Promise<string[]> => {
    const doc = JSON.parse(out(await atomic(`--sysroot=${S}`, 'status', '--json'), 'status')) as { deployments: Array<{ assessment: { state: string } }> };
    return doc.deployments.map((d) => d.assessment.state);
  };
  return { S, c2, v1: `${host.v1}.0`, v2: `${c2}.0`, withVar, entries, state };
}

test('systemd-boot: bless status, good, indeterminate and bad on the booted v2, as systemd-bless-boot does them', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await onV2(t, 'systemd-boot');
  const env = h.withVar('\\loader\\entries\\ostree-2-testos+2-1.conf');
  const s0 = await bless('status', { sysroot: h.S, env });
  assert.deepEqual([s0.status, s0.triesLeft, s0.entry, s0.bootCountEntry, s0.changed], ['indeterminate', 2, 'ostree-2-testos+2-1.conf', 'ostree-2-testos+2-1.conf', false]);

  const good = await bless('good', { sysroot: h.S, env });
  assert.deepEqual([good.statusBefore, good.status, good.entry, good.changed], ['indeterminate', 'good', 'ostree-2-testos.conf', true]);
  assert.deepEqual(await h.entries(), { boot: ['ostree-2-testos.conf', 'ostree-1-testos.conf'], esp: ['ostree-1-testos.conf', 'ostree-2-testos.conf'] });
  assert.deepEqual(await h.state(), ['good', 'good']);
  assert.equal((await bless('good', { sysroot: h.S, env })).changed, false, 'good twice changes nothing');

  // indeterminate: the counted name the firmware gave it at this boot comes back, and the record says untested.
  const ind = await bless('indeterminate', { sysroot: h.S, env });
  assert.deepEqual([ind.status, ind.entry, ind.triesLeft], ['indeterminate', 'ostree-2-testos+2-1.conf', 2]);
  assert.deepEqual((await h.entries()).esp, ['ostree-1-testos.conf', 'ostree-2-testos+2-1.conf']);
  assert.deepEqual(await h.state(), ['untested', 'good']);

  const bad = await bless('bad', { sysroot: h.S, env });
  assert.deepEqual([bad.status, bad.entry, bad.triesLeft], ['bad', 'ostree-2-testos+0-1.conf', 0]);
  assert.deepEqual(await h.state(), ['failed', 'good']);
  assert.deepEqual(await ostreeStatus(h.S), [h.v2, h.v1], 'the real ostree reads it');
  // The next boot: the firmware sorts the bad entry last and boots v1; the reconcile there quarantines v2.
  const sim = JSON.parse(out(await atomic(`--sysroot=${h.S}`, 'simulate-boot', '--json'), 'the next boot')) as { deployment: string; fellBack: boolean; reconcile: { action: string; quarantined: { commit: string } | null } };
  assert.deepEqual([sim.deployment, sim.fellBack, sim.reconcile.action, sim.reconcile.quarantined?.commit], [h.v1, true, 'fell-back', h.c2]);
  // A bad entry cannot be made indeterminate with a name that has no tries left.
  await assert.rejects(bless('indeterminate', { sysroot: h.S, env: h.withVar('\\loader\\entries\\ostree-2-testos+0-3.conf') }), /not booted from|no tries left/);
});

test('bless indeterminate needs the name the bootloader gave (LoaderBootCountPath); the CLI refuses unknown verbs and an unbooted host', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await onV2(t, 'systemd-boot');
  const env = h.withVar(null);
  await bless('good', { sysroot: h.S, env });
  await assert.rejects(bless('indeterminate', { sysroot: h.S, env }), (e: Error) => /LoaderBootCountPath/.test(e.message) && /Nothing was changed/.test(e.message));
  assert.deepEqual((await h.entries()).boot, ['ostree-2-testos.conf', 'ostree-1-testos.conf'], 'nothing changed');
  const bogus = await atomic(`--sysroot=${h.S}`, 'bless', 'great');
  assert.equal(bogus.code, 2, bogus.stderr);
  assert.match(bogus.stderr, /Unknown bless verb 'great': use one of good, bad, indeterminate, status/);
  // This machine did not boot the sysroot: the CLI says so, without a stack trace.
  const r = await atomic(`--sysroot=${h.S}`, 'bless', 'status');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not booted from a deployment of/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('grub: bless good sets boot_success=1 and drops the counter; bless bad spends it so GRUB falls back', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await onV2(t, 'grub');
  const env = h.withVar(null);
  const grubenv = async (): Promise<Record<string, string>> => {
    const file = path.join(h.S, 'boot', 'grub2', 'grubenv');
    return Object.fromEntries(parseGrubenv(await readFile(file), file));
  };
  const s0 = await bless('status', { sysroot: h.S, env });
  assert.deepEqual([s0.status, s0.triesLeft, s0.entry], ['indeterminate', 2, null]);
  assert.equal((await grubenv()).boot_counter, '2');
  const good = await bless('good', { sysroot: h.S, env });
  assert.equal(good.status, 'good');
  const g = await grubenv();
  assert.deepEqual([g.boot_success, g.boot_counter], ['1', undefined]);
  await assert.rejects(bless('indeterminate', { sysroot: h.S, env }), /LoaderBootCountPath|grub/);
  const bad = await bless('bad', { sysroot: h.S, env });
  assert.equal(bad.status, 'bad');
  const b = await grubenv();
  assert.deepEqual([b.boot_success, b.boot_counter], ['0', '0']);
  assert.deepEqual(await h.state(), ['failed', 'good']);
});
