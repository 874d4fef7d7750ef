/**
 * Automatic rollback on a failed boot, end to end through the atomic
 * command, for systemd-boot's counted entry names (on an ESP: a plain
 * directory here) and for GRUB's grubenv:
 *
 * v1 is deployed and blessed by its first simulated boot; v2, whose
 * required check fails, is deployed with 3 tries; `simulate-boot` boots it
 * exactly 3 times (each a failed check and a reboot), then the bootloader
 * falls back to v1, the reconcile makes v1 the default again, marks v2
 * failed with its check's output and quarantines its commit; `upgrade
 * --check` then says there is no update (77) and `upgrade` refuses it;
 * good v3 is published, deployed, booted and blessed (its entry renamed
 * without counter), v1 kept as its rollback. A v2 that never reaches
 * userspace rolls back the same way, saying it did not boot; an
 * inconclusive check uses no try and asks for no reboot. The real
 * `ostree admin status` reads the sysroot after every step.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseGrubenv } from '../../src/format/grubenv.js';
import { bootReconcile } from '../../src/host/boot-reconcile.js';
import { healthCheck } from '../../src/host/health-check.js';
import { upgrade } from '../../src/host/upgrade.js';
import { SysrootFaultReached, SysrootFaults } from '../../src/sysroot/faults.js';
import { hostEnv } from '../helpers/booted.js';
import { requireOstree, run, tempDir, type RunResult } from '../helpers/env.js';
import { ATOMIC, atomic, checkBootInvariants, makeHost, makeOsTree, ostreeStatus, publish, type Host } from '../helpers/host.js';
import { putFile } from '../helpers/trees.js';

const OK = '#!/bin/sh\necho "root filesystem mounted"\nexit 0\n';
const APP_DOWN = '#!/bin/sh\necho "app service is down" >&2\nexit 1\n';
const NO_NETWORK = '#!/bin/sh\necho "no network: cannot reach the update server"\nexit 75\n';

type Backend = 'systemd-boot' | 'grub' | 'bls';

interface Sim {
  entry: string;
  deployment: string;
  triesBefore: number | null;
  triesAfter: number | null;
  fellBack: boolean;
  reachedUserspace: boolean;
  verdict: string;
  reboot: boolean;
  checks: Array<{ name: string; class: string; result: string; output: string }>;
  reconcile: { action: string; reason: string; failed: string | null; quarantined: { commit: string; version?: string } | null } | null;
  healthCheck: { action: string; state: string; triesLeft: number | null; reason: string | null } | null;
}

interface Status {
  deployments: Array<{ id: string; checksum: string; version: string | null; assessment: { state: string; triesLeft: number | null; reason: string | null; checks: Array<{ name: string; result: string; output: string }> } }>;
  quarantine: Array<{ commit: string; version: string | null; reason: string }>;
  assessmentNotes: string[];
}

function out(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** A host with v1 (an /etc check that passes) deployed, the configured back end, and helpers for each step. */
async function setup(t: TestContext, backend: Backend, prefix: string) {
  const dir = await tempDir(t, prefix);
  const host: Host = await makeHost(t, dir, {
    v1: { version: '1.0', kernel: 'k1', etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-rootfs.sh', OK, 0o755) },
  });
  const S = host.sysroot;
  if (backend === 'systemd-boot') {
    await mkdir(path.join(S, 'boot', 'efi'), { recursive: true });
    await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=systemd-boot\nesp=/boot/efi\n');
  } else if (backend === 'grub') {
    await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=grub\n');
  }
  const sim = async (...args: string[]): Promise<Sim> => JSON.parse(out(await atomic(`--sysroot=${S}`, 'simulate-boot', '--json', ...args), 'simulate-boot')) as Sim;
  const status = async (): Promise<Status> => JSON.parse(out(await atomic(`--sysroot=${S}`, 'status', '--json'), 'atomic status')) as Status;
  /** After every step: the real ostree lists these deployments in this order, and every entry is complete and bootable. */
  const oracle = async (ids: string[], label: string): Promise<void> => {
    assert.deepEqual(await ostreeStatus(S), ids, `${label}: ostree admin status`);
    const inv = await checkBootInvariants(S);
    assert.deepEqual(inv.map((d) => d.id), ids, `${label}: boot entries`);
  };
  /** Entry file names in /boot/loader/entries (and, for systemd-boot, the same on the ESP), default first. */
  const entries = async (label: string): Promise<string[]> => {
    const inv = await checkBootInvariants(S);
    const names = inv.map((d) => d.entry);
    if (backend === 'systemd-boot') {
      const esp = (await readdir(path.join(S, 'boot', 'efi', 'loader', 'entries'))).filter((n) => n.endsWith('.conf')).sort();
      assert.deepEqual(esp, [...names].sort(), `${label}: the ESP's entries are /boot/loader's`);
    }
    return names;
  };
  const grubenv = async (): Promise<Record<string, string>> => {
    const file = path.join(S, 'boot', 'grub2', 'grubenv');
    return Object.fromEntries(parseGrubenv(await readFile(file), file));
  };
  const release = async (name: string, version: string, timestamp: number, checks: Record<string, string>): Promise<string> => {
    const tree = await makeOsTree(path.join(dir, `tree-${name}`), {
      version, kernel: `k-${name}`, etc: (etc) => putFile(etc, 'greenboot/check/required.d/10-rootfs.sh', OK, 0o755),
    });
    for (const [file, body] of Object.entries(checks)) await putFile(tree, `usr/lib/greenboot/check/${file}`, body, 0o755);
    return publish(host.upstream, tree, { timestamp, version });
  };
  return { dir, host, S, sim, status, oracle, entries, grubenv, release };
}

for (const backend of ['systemd-boot', 'grub'] as const) {
  test(`${backend}: a v2 whose required check fails is tried 3 times, falls back to v1, is quarantined; good v3 is blessed with v1 as its rollback`, async (t) => {
    if (!(await requireOstree(t))) return;
    const h = await setup(t, backend, `ots-assess-${backend}-`);
    const { S, sim, status, oracle, entries, grubenv } = h;
    const v1 = `${h.host.v1}.0`;

    // v1's first boot: not counted, its checks pass, it is blessed.
    let b = await sim();
    assert.equal(b.deployment, v1);
    assert.equal(b.triesBefore, null);
    assert.equal(b.verdict, 'pass');
    assert.equal(b.healthCheck?.action, 'blessed');
    assert.deepEqual(b.checks.map((c) => [c.name, c.result]), [['10-rootfs.sh', 'pass']]);
    await oracle([v1], 'v1 booted');
    assert.equal((await status()).deployments[0].assessment.state, 'good');

    // v2: its image ships a required check that fails.
    const c2 = await h.release('v2', '2.0', 1_700_000_100, { 'required.d/20-app.sh': APP_DOWN });
    const v2 = `${c2}.0`;
    out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
    await oracle([v2, v1], 'v2 deployed');
    let st = await status();
    assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state, d.assessment.triesLeft]), [[v2, 'untested', 3], [v1, 'good', null]]);
    if (backend === 'grub') {
      assert.deepEqual(await grubenv(), { boot_counter: '3', boot_success: '0' });
      assert.deepEqual(await entries('v2 deployed'), ['ostree-2-testos.conf', 'ostree-1-testos.conf'], 'GRUB counts in grubenv: no counter in the names');
    } else {
      assert.deepEqual(await entries('v2 deployed'), ['ostree-2-testos+3.conf', 'ostree-1-testos.conf'], 'only the new default carries a counter');
    }

    // Exactly 3 boots of v2, each failing its check and asking for a reboot.
    const counted = ['ostree-2-testos+2-1.conf', 'ostree-2-testos+1-2.conf', 'ostree-2-testos+0-3.conf'];
    for (let i = 1; i <= 3; i++) {
      b = await sim();
      assert.equal(b.deployment, v2, `boot ${i} is v2's`);
      assert.equal(b.fellBack, false);
      assert.deepEqual([b.triesBefore, b.triesAfter], [4 - i, 3 - i], `boot ${i}: tries`);
      assert.equal(b.verdict, 'fail');
      assert.equal(b.reboot, true, `boot ${i}: a reboot is asked for`);
      assert.equal(b.healthCheck?.action, i < 3 ? 'try-again' : 'failed');
      const failed = b.checks.find((c) => c.name === '20-app.sh');
      assert.equal(failed?.result, 'fail');
      assert.match(failed?.output ?? '', /^app service is down\n\[20-app\.sh exited with status 1\]$/);
      await oracle([v2, v1], `v2 boot ${i}`);
      if (backend === 'grub') assert.equal((await grubenv()).boot_counter, String(3 - i), `boot ${i}: grubenv boot_counter`);
      else assert.equal((await entries(`boot ${i}`))[0], counted[i - 1], `boot ${i}: v2's entry name`);
    }
    st = await status();
    assert.equal(st.deployments[0].assessment.state, 'failed', 'no try left: failed');

    // The 4th boot: the bootloader falls back to v1; the reconcile finishes it.
    b = await sim();
    assert.equal(b.deployment, v1, 'the bootloader booted v1');
    assert.equal(b.fellBack, true);
    assert.equal(b.reconcile?.action, 'fell-back');
    assert.equal(b.reconcile?.failed, v2);
    assert.match(b.reconcile?.reason ?? '', /required check 20-app\.sh failed: app service is down/);
    assert.equal(b.reconcile?.quarantined?.commit, c2);
    assert.equal(b.verdict, 'pass', 'v1 is healthy');
    assert.equal(b.reboot, false);
    await oracle([v1, v2], 'fell back to v1');
    st = await status();
    assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state]), [[v1, 'good'], [v2, 'failed']]);
    assert.match(st.deployments[1].assessment.reason ?? '', /app service is down/);
    assert.ok(st.deployments[1].assessment.checks.some((c) => c.name === '20-app.sh' && c.result === 'fail' && c.output.includes('app service is down')), 'v2 keeps its check output');
    assert.deepEqual(st.quarantine.map((q) => [q.commit, q.version]), [[c2, '2.0']]);
    if (backend === 'grub') assert.equal((await grubenv()).boot_counter, undefined, 'v1, the default again, is not counted');
    else assert.deepEqual(await entries('fell back'), ['ostree-2-testos.conf', 'ostree-1-testos+0-3.conf'], 'the failed entry keeps +0-DONE');
    const text = out(await atomic(`--sysroot=${S}`, 'status'), 'atomic status text');
    assert.match(text, /Boot assessment: failed: required check 20-app\.sh failed: app service is down\n/);
    assert.match(text, new RegExp(`Quarantined: ${c2} \\(version 2\\.0\\) since .*: required check 20-app\\.sh failed`));

    // v2 is still the newest commit: no update, and an upgrade refuses it.
    const check = await atomic(`--sysroot=${S}`, 'upgrade', '--check');
    assert.equal(check.code, 77, `upgrade --check: ${check.stderr}`);
    assert.match(check.stdout, new RegExp(`^No update available: the newest commit of origin:os/stable, ${c2} \\(version 2\\.0\\), is quarantined: since .*: required check 20-app\\.sh failed: app service is down\\. It is deployed again once`));
    const refused = await atomic(`--sysroot=${S}`, 'upgrade');
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, new RegExp(`Preflight check 'quarantine' failed: commit ${c2} \\(version 2\\.0\\) is in quarantine since`));
    await oracle([v1, v2], 'refused upgrade');

    // Good v3 on the ref: deployed, booted once, blessed; v1 its rollback.
    const c3 = await h.release('v3', '3.0', 1_700_000_200, {});
    const v3 = `${c3}.0`;
    out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v3');
    await oracle([v3, v1], 'v3 deployed');
    b = await sim();
    assert.equal(b.deployment, v3);
    assert.deepEqual([b.triesBefore, b.triesAfter], [3, 2]);
    assert.equal(b.verdict, 'pass');
    assert.equal(b.healthCheck?.action, 'blessed');
    await oracle([v3, v1], 'v3 blessed');
    st = await status();
    assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state, d.assessment.triesLeft]), [[v3, 'good', null], [v1, 'good', null]]);
    if (backend === 'grub') assert.deepEqual(await grubenv(), { boot_success: '1' });
    else assert.deepEqual(await entries('v3 blessed'), ['ostree-2-testos.conf', 'ostree-1-testos.conf'], 'blessed: the counter is gone from the name');
    assert.deepEqual(st.assessmentNotes, []);
  });
}

test('a v2 that never reaches userspace (--fail-boot) rolls back after its tries, and the reason says it did not boot', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await setup(t, 'bls', 'ots-assess-failboot-');
  const { S, sim, status, oracle } = h;
  const v1 = `${h.host.v1}.0`;
  await sim();
  const c2 = await h.release('v2', '2.0', 1_700_000_100, {});
  const v2 = `${c2}.0`;
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
  // Still running v1 on the boot that made the update: v2 was not tried, so there is nothing to reconcile.
  const same = await bootReconcile({ sysroot: S, env: await hostEnv(t, { booted: { osname: 'testos', checksum: h.host.v1, serial: 0 } }) });
  assert.deepEqual([same.action, same.booted, same.default], ['none', v1, v2]);
  assert.match(same.reason, /not tried yet/);
  for (let i = 1; i <= 3; i++) {
    const b = await sim('--fail-boot');
    assert.equal(b.deployment, v2);
    assert.deepEqual([b.triesBefore, b.triesAfter], [4 - i, 3 - i]);
    assert.equal(b.reachedUserspace, false);
    assert.equal(b.verdict, 'did-not-boot');
    assert.equal(b.reconcile, null);
    assert.equal(b.healthCheck, null);
    await oracle([v2, v1], `failed boot ${i}`);
  }
  const b = await sim();
  assert.equal(b.deployment, v1);
  assert.equal(b.fellBack, true);
  assert.equal(b.reconcile?.action, 'fell-back');
  assert.match(b.reconcile?.reason ?? '', /^did not boot: the bootloader fell back after 3 of its 3 tries/);
  await oracle([v1, v2], 'fell back');
  const st = await status();
  assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state]), [[v1, 'good'], [v2, 'failed']]);
  assert.match(st.deployments[1].assessment.reason ?? '', /^did not boot/);
  assert.deepEqual(st.quarantine.map((q) => q.commit), [c2]);
  // Named by its version, it is refused too.
  const named = await atomic(`--sysroot=${S}`, 'deploy', '2.0');
  assert.equal(named.code, 5, named.stderr);
  assert.match(named.stderr, /Preflight check 'quarantine' failed/);
  await oracle([v1, v2], 'refused deploy 2.0');
  // Cleared, the commit may be deployed again.
  out(await atomic(`--sysroot=${S}`, 'quarantine', 'clear', c2.slice(0, 10)), 'quarantine clear');
  assert.match(out(await atomic(`--sysroot=${S}`, 'quarantine', 'list'), 'quarantine list'), /^No commit is quarantined\.\n$/);
  const again = JSON.parse(out(await atomic(`--sysroot=${S}`, 'deploy', '2.0', '--json'), 'deploy 2.0 once cleared')) as { outcome: string; deployment: string };
  assert.equal(again.outcome, 'updated');
  assert.equal((await status()).deployments[0].assessment.state, 'untested', 'deployed again, it starts a new probation');
});

test('an inconclusive check uses no try and asks for no reboot; a hung check is killed at its timeout and counts as failed', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await setup(t, 'bls', 'ots-assess-inconclusive-');
  const { S, sim, status, oracle, entries } = h;
  const v1 = `${h.host.v1}.0`;
  await sim();
  const c2 = await h.release('v2', '2.0', 1_700_000_100, { 'required.d/30-network.sh': NO_NETWORK });
  const v2 = `${c2}.0`;
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
  for (let i = 1; i <= 4; i++) {
    const b = await sim();
    assert.equal(b.deployment, v2, `boot ${i}`);
    assert.deepEqual([b.triesBefore, b.triesAfter], [3, 2], `boot ${i}: the bootloader spends a try, and it is given back`);
    assert.equal(b.verdict, 'inconclusive');
    assert.equal(b.reboot, false, 'no reboot');
    assert.equal(b.healthCheck?.action, 'retry-later');
    assert.equal(b.healthCheck?.triesLeft, 3);
    assert.deepEqual(await entries(`inconclusive boot ${i}`), ['ostree-2-testos+3.conf', 'ostree-1-testos.conf']);
    await oracle([v2, v1], `inconclusive boot ${i}`);
  }
  const st = await status();
  assert.deepEqual([st.deployments[0].assessment.state, st.deployments[0].assessment.triesLeft], ['untested', 3]);
  assert.match(st.deployments[0].assessment.checks.find((c) => c.name === '30-network.sh' && c.result === 'inconclusive')?.output ?? '', /no network/);

  // A check that hangs (and starts a child that would outlive it) is killed at its timeout: a failure, a try spent.
  await putFile(S, 'etc/ostree-ts/atomic.conf', '[check 30-network.sh]\ntimeout=1\n');
  const d2 = path.join(S, 'ostree', 'deploy', 'testos', 'deploy', v2);
  const etcCheck = path.join(d2, 'etc', 'greenboot', 'check', 'required.d', '30-network.sh');
  const pidFile = path.join(h.dir, 'hang.pid');
  // The deployment's /usr is read-only by convention; /etc is the host's to change. An /etc check of the same name runs after /usr/lib's.
  await writeFile(etcCheck, `#!/bin/sh\nsleep 300 &\necho $! > ${pidFile}\nwait\n`, { mode: 0o755 });
  const b = await sim();
  assert.equal(b.verdict, 'fail');
  const hung = b.checks.find((c) => c.result === 'timeout');
  assert.equal(hung?.name, '30-network.sh');
  assert.match(hung?.output ?? '', /killed after its timeout of 1 s, with its process group/);
  const child = Number((await readFile(pidFile, 'utf8')).trim());
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    const stat = await readFile(`/proc/${child}/stat`, 'utf8').catch(() => null);
    gone = stat === null || /^\d+ \(.*\) [ZX] /s.test(stat);
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(gone, 'the hung check\'s child is gone (or a zombie no one reaps)');
  assert.deepEqual([b.triesBefore, b.triesAfter, b.reboot], [3, 2, true]);
  assert.deepEqual((await status()).deployments[0].assessment.triesLeft, 2);
});

test('power cut: the reconcile stopped between every pair of its writes leaves a bootable sysroot and a readable record, and the next boot completes it', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await setup(t, 'bls', 'ots-assess-cut-');
  const { S, sim, status, oracle } = h;
  const v1 = `${h.host.v1}.0`;
  await sim();
  const c2 = await h.release('v2', '2.0', 1_700_000_100, { 'required.d/20-app.sh': APP_DOWN });
  const v2 = `${c2}.0`;
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
  for (let i = 1; i <= 3; i++) await sim();
  // Each boot of v1 now reconciles; stop it at its N-th write (counting every sysroot fault point), then boot again.
  const stops: string[] = [];
  for (let n = 1; n <= 20; n++) {
    const r = await run(process.execPath, [ATOMIC, `--sysroot=${S}`, 'simulate-boot', '--json'], { env: { OSTREE_TS_TEST_FAULT: `@${n}` } });
    if (r.code === 0) break;
    assert.match(r.stderr, /Stopped at sysroot fault point '([a-z-]+)' \(write \d+\)/, `run ${n}: ${r.stderr}`);
    stops.push(/fault point '([a-z-]+)'/.exec(r.stderr)?.[1] ?? '');
    // Whatever was cut: the real ostree reads it, every entry is complete, the record parses.
    const ids = await ostreeStatus(S);
    assert.deepEqual([...ids].sort(), [v1, v2].sort(), `after a cut at write ${n}`);
    await checkBootInvariants(S);
    const st = await status();
    assert.ok(['untested', 'failed'].includes(st.deployments.find((d) => d.id === v2)?.assessment.state ?? ''), `after a cut at write ${n}: v2 is failed or still on probation`);
  }
  assert.ok(stops.length >= 2, `the reconcile was cut at least twice (${stops.join(', ')})`);
  assert.ok(stops.includes('reconcile'), `a cut between the reconcile's own writes (${stops.join(', ')})`);
  await oracle([v1, v2], 'reconciled after the cuts');
  const st = await status();
  assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state]), [[v1, 'good'], [v2, 'failed']]);
  assert.deepEqual(st.quarantine.map((q) => q.commit), [c2], 'quarantined once');
});

test('power cut: the blessing (systemd-boot, ESP and /boot/loader) stopped between every pair of its writes leaves complete bootable entries on both, and the next run blesses', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await setup(t, 'systemd-boot', 'ots-assess-cut-bless-');
  const { S, sim, status, oracle } = h;
  const v1 = `${h.host.v1}.0`;
  await sim();
  const c2 = await h.release('v2', '2.0', 1_700_000_100, {});
  const v2 = `${c2}.0`;
  out(await atomic(`--sysroot=${S}`, 'upgrade'), 'upgrade to v2');
  // The firmware's step only: v2 booted with a try spent (+2-1), its checks not yet run.
  const fw = await sim('--fail-boot');
  assert.deepEqual([fw.deployment, fw.triesAfter], [v2, 2]);
  const env = await hostEnv(t, { booted: { osname: 'testos', checksum: c2, serial: 0 } });
  const esp = path.join(S, 'boot', 'efi');
  /** Every entry on the ESP names files the ESP has: the firmware can boot any of them. */
  const espBootable = async (label: string): Promise<void> => {
    const dir = path.join(esp, 'loader', 'entries');
    const names = (await readdir(dir)).filter((n) => n.endsWith('.conf'));
    assert.ok(names.length >= 1, `${label}: the ESP has an entry`);
    for (const n of names) {
      const text = await readFile(path.join(dir, n), 'utf8');
      for (const key of ['linux', 'initrd']) {
        const rel = new RegExp(`^${key}\\s+(\\S+)$`, 'm').exec(text)?.[1];
        assert.ok(rel, `${label}: ${n} has ${key}`);
        assert.ok(await readFile(path.join(esp, rel)).then(() => true, () => false), `${label}: ${n}'s ${key} ${rel} is on the ESP`);
      }
    }
  };
  let done = false;
  const stops: string[] = [];
  for (let n = 1; n <= 40 && !done; n++) {
    const faults = new SysrootFaults([`@${n}`]);
    try {
      const r = await healthCheck({ sysroot: S, env, faults, reboot: async () => undefined });
      // Blessed by this run, or by the one cut just after its last write.
      assert.ok(['blessed', 'recorded'].includes(r.action), r.action);
      done = true;
    } catch (e) {
      if (!(e instanceof SysrootFaultReached)) throw e;
      stops.push(e.point);
      await oracle([v2, v1], `cut at write ${n} (${e.point})`);
      await espBootable(`cut at write ${n} (${e.point})`);
      const st = await status();
      assert.ok(['untested', 'good'].includes(st.deployments[0].assessment.state), `cut at write ${n}: v2 is untested or good`);
    }
  }
  assert.ok(done, 'the blessing completed');
  // Cut after the ESP's rename, before /boot/loader's: the next run takes the ESP's name over (the firmware's side wins).
  assert.ok(stops.includes('esp-entry-rename') && stops.length >= 2, `cut between the ESP rename and the rest (${stops.join(', ')})`);
  const st = await status();
  assert.deepEqual(st.deployments.map((d) => [d.id, d.assessment.state, d.assessment.triesLeft]), [[v2, 'good', null], [v1, 'good', null]]);
  assert.deepEqual(await h.entries('blessed after the cuts'), ['ostree-2-testos.conf', 'ostree-1-testos.conf']);
});

test('power cut: with grub, an upgrade stopped at any of its sysroot writes leaves the default counted — the counter is armed before the switch', async (t) => {
  if (!(await requireOstree(t))) return;
  const h = await setup(t, 'grub', 'ots-assess-cut-arm-');
  const { S, sim } = h;
  const v1 = `${h.host.v1}.0`;
  await sim();
  const c2 = await h.release('v2', '2.0', 1_700_000_100, {});
  const v2 = `${c2}.0`;
  const stops: string[] = [];
  const defaults: string[] = [];
  let done = false;
  for (let n = 1; n <= 40 && !done; n++) {
    // Each cut on a copy of the sysroot as it was before the upgrade.
    const copy = path.join(h.dir, `cut-${n}`);
    out(await run('cp', ['-a', S, copy]), 'copy the sysroot');
    try {
      assert.equal((await upgrade({ sysroot: copy, env: await hostEnv(t), faults: new SysrootFaults([`@${n}`]) })).outcome, 'updated');
      done = true;
    } catch (e) {
      if (!(e instanceof SysrootFaultReached)) throw e;
      stops.push(e.point);
    }
    const ids = (await checkBootInvariants(copy)).map((d) => d.id);
    if (!done) defaults.push(ids[0] === v2 ? 'v2' : 'v1');
    const file = path.join(copy, 'boot', 'grub2', 'grubenv');
    const env = Object.fromEntries(parseGrubenv(await readFile(file), file));
    if (ids[0] === v2) {
      // Switched: v2's first boot is counted, however early after the switch the cut came.
      assert.deepEqual([env.boot_counter, env.boot_success], ['3', '0'], `cut at write ${n} (${stops.at(-1) ?? 'none'}): v2 is the default and counted`);
      const st = JSON.parse(out(await atomic(`--sysroot=${copy}`, 'status', '--json'), 'status')) as Status;
      assert.equal(st.deployments[0].assessment.state, 'untested', `cut at write ${n}: the record has v2 on probation`);
    } else {
      assert.equal(ids[0], v1, `cut at write ${n}: v1 is still the default`);
    }
    await run('chattr', ['-R', '-i', copy]).catch(() => undefined);
  }
  assert.ok(done, `the upgrade completed after ${stops.length} cuts`);
  // The cuts fell before the switch (the arming) and after it (the probation's own writes).
  assert.ok(defaults.includes('v1') && defaults.includes('v2'), `cuts before and after the switch (${stops.map((p, i) => `${p}: ${defaults[i]}`).join(', ')})`);
});
