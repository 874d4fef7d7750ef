/**
 * Real boots (issue 17): QEMU boots disks that `ostree-ts compose` and
 * `atomic` made, under OVMF with systemd-boot (and GRUB with a grubenv), the
 * bootloader counts the tries, and vm-os's init runs the project's own
 * `atomic boot-reconcile` and `atomic health-check` (Node.js and the built
 * project inside the image), so a bad update rolls back with no help from
 * the test. Every boot is printed: the entry the bootloader chose (its own
 * LoaderEntrySelected, read in the guest), the tries left, the health
 * result, the boot's time. The evidence is read back from the disk without
 * mounting it: the ESP's entry names (mtools), the assessment record and the
 * guest's own `atomic status --json` (debugfs), and `atomic status --json`
 * run here on the sysroot copied out of the root file system.
 *
 * Run by `npm run test:vm` (VM_TEST=1); skipped under `npm test`. As root it
 * installs the Debian packages it needs (test/vm/tools.ts) with apt-get;
 * under CI a missing one fails it. The kernel package is cached in
 * build/vm-cache/, the recipes' input trees are made in build/vm-os/.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { removeTree, ROOT } from '../helpers/env.js';
import { copyDisk, espCat, espExtract, espList, rootCat, rootDump, rootFsck, type Disk } from './disk.js';
import { buildImages, cli, OS, TRIES, type Images, type Loader, type Variant } from './images.js';
import { makeInputs } from './inputs.js';
import { debianKernel } from './kernel.js';
import { cutter, Machine, type BootSummary, type CutPlan } from './machine.js';
import { ensurePackages, must, VM_PACKAGES } from './tools.js';

const enabled = process.env.VM_TEST === '1';
const log = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

interface DeploymentDoc {
  version: string | null;
  checksum: string;
  default: boolean;
  booted: boolean;
  assessment: { state: string; triesLeft: number | null; reason: string | null; checks: Array<{ name: string; result: string; output: string }> };
}
interface StatusDoc {
  booted: boolean;
  deployments: DeploymentDoc[];
  quarantine: Array<{ commit: string; reason: string }>;
  assessmentNotes: string[];
  bootBackend: string;
  /** The version of the first deployment `ostree admin status` lists (the default), filled in by hostStatus. */
  oracleDefaultVersion?: string | null;
}

const RECORD = '/ostree/atomic/assessment.json';
const GUEST_STATUS = `/ostree/deploy/${OS}/var/lib/vm-os/status.json`;

/** `atomic status --json` on the host, on the sysroot copied out of the disk (the ESP's files at boot/efi). */
async function hostStatus(root: string, d: Disk, dest: string): Promise<StatusDoc> {
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  for (const p of ['/ostree', '/boot', '/etc']) await rootDump(d, p, dest);
  await espExtract(d, path.join(dest, 'boot', 'efi'));
  const doc = JSON.parse(await cli(root).atomic(`--sysroot=${dest}`, 'status', '--json')) as StatusDoc;
  // The oracle: Debian's ostree reads the same sysroot; its first deployment is the default.
  const oracle = await must('ostree', ['admin', `--sysroot=${dest}`, 'status']);
  doc.oracleDefaultVersion = /^\s+Version:\s+(\S+)/m.exec(oracle)?.[1] ?? null;
  await rm(dest, { recursive: true, force: true });
  return doc;
}

async function guestStatus(d: Disk): Promise<StatusDoc> {
  return JSON.parse(await rootCat(d, GUEST_STATUS)) as StatusDoc;
}

function byVersion(doc: StatusDoc, v: string): DeploymentDoc {
  const d = doc.deployments.find((x) => x.version === v);
  assert.ok(d, `atomic status lists version ${v}: ${JSON.stringify(doc.deployments.map((x) => x.version))}`);
  return d;
}

const ENTRY_V1 = `ostree-1-${OS}.conf`;
const ENTRY_V2 = `ostree-2-${OS}.conf`;
const counted = (left: number, done: number): string => `ostree-2-${OS}+${left}${done ? `-${done}` : ''}.conf`;

/** The rollback evidence of scenarios (b), (c) and GRUB (b): v1 booted and default, v2 failed with `reason`, its commit quarantined. */
async function assertRolledBack(label: string, d: Disk, commit: string, reason: RegExp, loader: Loader, work: string): Promise<void> {
  const guest = await guestStatus(d);
  assert.equal(guest.booted, true, `${label}: the guest's atomic status says it booted from the sysroot`);
  const g1 = byVersion(guest, '1');
  assert.equal(g1.booted, true, `${label}: v1 is the booted deployment (guest's atomic status)`);
  assert.equal(g1.default, true, `${label}: v1 is the default (guest's atomic status)`);
  const host = await hostStatus(ROOT, d, path.join(work, `status-${label}`));
  log(`[${label}] atomic status --json (host, on the sysroot read back from the disk): ${JSON.stringify({
    deployments: host.deployments.map((x) => ({ version: x.version, default: x.default, state: x.assessment.state, triesLeft: x.assessment.triesLeft, reason: x.assessment.reason })),
    quarantine: host.quarantine, notes: host.assessmentNotes,
  })}`);
  const h1 = byVersion(host, '1');
  const h2 = byVersion(host, '2');
  assert.equal(host.deployments[0].version, '1', `${label}: v1 is first (the default) in the host's atomic status`);
  assert.equal(h1.default, true);
  assert.equal(host.oracleDefaultVersion, '1', `${label}: ostree admin status lists v1 first too`);
  assert.equal(h2.assessment.state, 'failed', `${label}: v2 is failed`);
  assert.match(h2.assessment.reason ?? '', reason, `${label}: v2's reason`);
  assert.ok(host.quarantine.some((q) => q.commit === commit), `${label}: v2's commit ${commit} is quarantined: ${JSON.stringify(host.quarantine)}`);
  assert.ok(host.quarantine.find((q) => q.commit === commit)!.reason.match(reason), `${label}: the quarantine says why`);
  assert.deepEqual(host.assessmentNotes, [], `${label}: the boot files and the record agree`);
  const record = JSON.parse(await rootCat(d, RECORD)) as { deployments: Record<string, { state: string }> };
  assert.ok(Object.values(record.deployments).some((x) => x.state === 'failed'), `${label}: the record under the sysroot (${RECORD}) has the failure`);
  if (loader === 'systemd-boot') {
    // v1 is the default now: its entry is the first one (ostree-2-vmos.conf), uncounted; v2's is counted with no tries left.
    const entries = await espList(d, '/loader/entries');
    const titles = await Promise.all(entries.map(async (e) => `${e}: ${/^title (.*)$/m.exec(await espCat(d, `/loader/entries/${e}`))?.[1]}`));
    log(`[${label}] ESP entries: ${titles.join('; ')}`);
    assert.equal(entries.length, 2, `${label}: two entries on the ESP: ${titles}`);
    assert.ok(titles.some((x) => /^ostree-2-vmos\.conf: vm-os 1 /.test(x)), `${label}: v1's entry is the first, uncounted: ${titles}`);
    assert.ok(titles.some((x) => /^ostree-1-vmos\+0-[0-9]+\.conf: vm-os 2 /.test(x)), `${label}: v2's entry has no tries left: ${titles}`);
  }
  const fsck = await rootFsck(d);
  assert.ok(fsck.ok, `${label}: the root file system is clean:\n${fsck.output}`);
}

function assertChose(label: string, s: BootSummary, entry: string, why: string): void {
  assert.equal(s.entry, entry, `${label}: boot ${s.n}: ${why}`);
}

test('real boots: systemd-boot and GRUB count the tries, the host blesses a good update and rolls a bad one back by itself', {
  skip: enabled ? false : 'run with npm run test:vm', timeout: 30 * 60_000, concurrency: 2,
}, async (t) => {
  const t0 = Date.now();
  const missing = await ensurePackages(log);
  if (missing.length) {
    const why = `the VM test needs these Debian packages: ${missing.map((m) => `${m} (${VM_PACKAGES[m]})`).join(', ')}; install them (apt-get install ${missing.join(' ')}), as root`;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return;
  }
  const work = await mkdtemp(path.join(tmpdir(), 'ots-vm-'));
  t.after(() => (process.env.VM_KEEP ? undefined : removeTree(work)));
  const kernel = await debianKernel(path.join(ROOT, 'build', 'vm-cache'), log);
  await makeInputs(ROOT, kernel);
  log(`kernel ${kernel.kver} (${kernel.pkg}); input trees in build/vm-os (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  // VM_ONLY=a,b-grub,...: only those scenarios (and their disks), when working on one.
  const only = process.env.VM_ONLY ? new Set(process.env.VM_ONLY.split(',').map((x) => `(${x.trim()})`)) : null;
  const uses: Record<string, string[]> = {
    '(a)': ['vm-os-2-systemd-boot'], '(b)': ['vm-os-2-broken-systemd-boot'], '(c)': ['vm-os-2-noroot-systemd-boot'], '(b-grub)': ['vm-os-2-broken-grub'],
    '(cuts-bless)': ['vm-os-2-systemd-boot'], '(cuts-reconcile)': ['vm-os-2-broken-systemd-boot'],
  };
  const wanted = ([['vm-os-2', 'systemd-boot'], ['vm-os-2-broken', 'systemd-boot'], ['vm-os-2-noroot', 'systemd-boot'], ['vm-os-2-broken', 'grub']] as Array<[Variant, Loader]>)
    .filter(([v, l]) => !only || [...only].some((o) => uses[o]?.includes(`${v}-${l}`)));
  const images: Images = await buildImages(ROOT, work, wanted, log);
  log(`images built (${((Date.now() - t0) / 1000).toFixed(1)} s since the start)`);
  const times: Record<string, number> = {};
  const scenario = (name: string, fn: (label: string) => Promise<void>) => t.test(name, { skip: only && !only.has(name.split(' ')[0]) ? 'not in VM_ONLY' : false }, async () => {
    const s0 = Date.now();
    try {
      await fn(name.split(' ')[0]);
    } finally {
      times[name] = (Date.now() - s0) / 1000;
      log(`[${name.split(' ')[0]}] scenario time ${times[name].toFixed(1)} s`);
    }
  });
  const machine = async (label: string, key: string): Promise<Machine> => {
    const file = label.replace(/[()]/g, '');
    const d = await copyDisk(images.disks.get(key)!, path.join(work, `${file}.img`));
    return Machine.create(label, d, path.join(work, `${file}.vars`), log);
  };

  /** Boot with a cut plan (null: no cut in that boot), then on until it powers off; the number of cuts made. */
  const runPlan = async (m: Machine, plan: Array<CutPlan | null>): Promise<number> => {
    let made = 0;
    for (const p of plan) {
      const s = await m.bootOnce(p ? cutter(p) : undefined);
      if (s.end === 'cut') made++;
      assert.notEqual(s.end, 'timeout', `${m.label}: boot ${s.n} came to an end`);
      if (s.end === 'poweroff') break;
      // Whatever was cut, every entry on the ESP is whole (none empty: the firmware would skip it), v1's and v2's among them.
      const entries = await espList(m.disk, '/loader/entries');
      const titles: string[] = [];
      for (const e of entries) {
        const text = await espCat(m.disk, `/loader/entries/${e}`);
        assert.match(text, /^linux \S+$/m, `${m.label}: after boot ${s.n} the ESP entry ${e} is whole:\n${text}`);
        titles.push(/^title (.*)$/m.exec(text)?.[1] ?? '');
      }
      assert.ok(titles.some((x) => x.startsWith('vm-os 1 ')) && titles.some((x) => x.startsWith('vm-os 2 ')), `${m.label}: after boot ${s.n} the ESP boots both versions: ${entries}`);
    }
    if (m.boots.at(-1)!.end !== 'poweroff') await m.bootUntilPoweroff(TRIES + 2);
    assert.equal(m.boots.at(-1)!.end, 'poweroff', `${m.label}: it ends in a boot that stays up`);
    return made;
  };
  const cuts = new Map<string, number>();
  const all = [
    // Longest first, so both machines stay busy: 5 boots, then 4, 3, 3, 3 and 1.
    scenario('(cuts-reconcile) power cuts mid-reconcile in v1 after v2 failed, then booted again: it ends rolled back, bootable and consistent', async (label) => {
      const m = await machine(label, 'vm-os-2-broken-systemd-boot');
      cuts.set(label, await runPlan(m, [
        null, null,
        // v1's reconcile: the record (failed, quarantined) is durable, the entry and the default not yet changed.
        { after: 'VMOS: reconcile start', at: /^ostree-ts: write point reconcile / },
        // Again: the entry marked failed; the switch of the default to v1 (new entries, the ESP copy) is under way.
        { after: 'VMOS: reconcile start', at: /^ostree-ts: write point reconcile /, nth: 2 },
      ]));
      assert.equal(m.boots.at(-1)!.version, '1', `${label}: v1 is what boots in the end`);
      await assertRolledBack(label, m.disk, images.commits.get('vm-os-2-broken-systemd-boot')!, /required check 10-vm-os failed/, 'systemd-boot', work);
    }),
    scenario('(cuts-bless) power cuts mid-blessing of a healthy v2 and in the reconcile after it, then booted again: it ends blessed, bootable and consistent', async (label) => {
      // The cut points, fixed in advance: the Nth progress marker after a marker, on the serial console.
      const m = await machine(label, 'vm-os-2-systemd-boot');
      cuts.set(label, await runPlan(m, [
        // As the checks' verdict comes: the record of the attempt and the blessing's first rename are next.
        { after: 'VMOS: health-check start', at: /^\s+PASS\s+required 10-vm-os/ },
        // The blessing's first durable write (the ESP's rename when it is still counted).
        { after: 'VMOS: health-check start', at: /^ostree-ts: write point / },
        // The next boot's reconcile, as it gives /boot/loader the name the ESP's entry has now (the adoption's rename).
        { after: 'VMOS: reconcile start', at: /^ostree-ts: write point / },
      ]));
      assert.equal(m.boots.at(-1)!.version, '2', `${label}: the healthy v2 is what boots in the end`);
      assert.deepEqual(await espList(m.disk, '/loader/entries'), [ENTRY_V1, ENTRY_V2], `${label}: v2 blessed on the ESP`);
      const host = await hostStatus(ROOT, m.disk, path.join(work, `status-${label}`));
      assert.equal(byVersion(host, '2').assessment.state, 'good', `${label}: v2 good`);
      assert.equal(byVersion(host, '2').default, true, `${label}: v2 the default`);
      assert.deepEqual(host.quarantine, [], `${label}: nothing quarantined`);
      assert.deepEqual(host.assessmentNotes, [], `${label}: the boot files and the record agree`);
      assert.equal(byVersion(await guestStatus(m.disk), '2').booted, true, `${label}: v2 booted (the guest's atomic status)`);
      assert.ok((await rootFsck(m.disk)).ok, `${label}: the root file system is clean`);
    }),
    scenario('(b) v2 fails its required health check: systemd-boot tries it, then boots v1 by itself; v1 quarantines v2', async (label) => {
      const m = await machine(label, 'vm-os-2-broken-systemd-boot');
      const boots = await m.bootUntilPoweroff(TRIES + 2);
      assert.equal(boots.length, TRIES + 1, `${TRIES} failed boots of v2, then v1`);
      for (let i = 0; i < TRIES; i++) {
        assertChose(label, boots[i], counted(TRIES - i, i), `systemd-boot chose v2 with ${TRIES - i} tries left`);
        assert.equal(boots[i].countPath, counted(TRIES - i - 1, i + 1));
        assert.equal(boots[i].version, '2');
        assert.match(boots[i].health, /failed/);
        assert.equal(boots[i].end, 'reboot');
      }
      assert.equal(boots[TRIES - 1].countPath, counted(0, TRIES), 'the last try spent by systemd-boot: +0');
      assertChose(label, boots[TRIES], ENTRY_V1, 'systemd-boot fell back to v1 by itself (v2 has no tries left)');
      assert.equal(boots[TRIES].countPath, 'none', 'v1 is not counted');
      assert.equal(boots[TRIES].version, '1');
      assert.ok(boots[TRIES].boot.lines.some((l) => /The bootloader fell back from \S+: required check 10-vm-os failed/.test(l.text)), 'boot-reconcile in v1 marked v2 failed');
      await assertRolledBack(label, m.disk, images.commits.get('vm-os-2-broken-systemd-boot')!, /required check 10-vm-os failed: vm-os: the greeting service does not answer/, 'systemd-boot', work);
      const h2 = byVersion(await hostStatus(ROOT, m.disk, path.join(work, `status2-${label}`)), '2');
      assert.ok(h2.assessment.checks.some((c) => c.result === 'fail' && c.output.includes('the greeting service does not answer')), 'v2 failed with its health-check output');
    }),
    scenario('(c) v2\'s initramfs cannot mount its root: the tries run out in the initramfs, systemd-boot boots v1, v1 quarantines v2', async (label) => {
      const m = await machine(label, 'vm-os-2-noroot-systemd-boot');
      const boots = await m.bootUntilPoweroff(TRIES + 2);
      assert.equal(boots.length, TRIES + 1);
      for (let i = 0; i < TRIES; i++) {
        assertChose(label, boots[i], counted(TRIES - i, i), `systemd-boot chose v2 with ${TRIES - i} tries left (its initramfs says)`);
        assert.equal(boots[i].countPath, counted(TRIES - i - 1, i + 1));
        assert.match(boots[i].health, /did not boot \(cannot mount the root/);
        assert.equal(boots[i].end, 'reboot');
      }
      assertChose(label, boots[TRIES], ENTRY_V1, 'systemd-boot fell back to v1 by itself');
      await assertRolledBack(label, m.disk, images.commits.get('vm-os-2-noroot-systemd-boot')!, /did not boot/, 'systemd-boot', work);
    }),
    scenario('(b-grub) GRUB + grubenv: v2 fails its health check, GRUB counts down and boots v1, v1 quarantines v2', async (label) => {
      const m = await machine(label, 'vm-os-2-broken-grub');
      const boots = await m.bootUntilPoweroff(TRIES + 2);
      assert.equal(boots.length, TRIES + 1);
      for (let i = 0; i < TRIES; i++) {
        assert.equal(boots[i].entry, 'grub menu entry 0');
        assert.equal(boots[i].triesLeft, String(TRIES - i - 1));
        assert.equal(boots[i].version, '2');
        assert.match(boots[i].health, /failed/);
      }
      assert.equal(boots[TRIES].entry, 'grub menu entry 1', 'GRUB fell back to the second entry (v1) once the counter was spent');
      assert.equal(boots[TRIES].version, '1');
      await assertRolledBack(label, m.disk, images.commits.get('vm-os-2-broken-grub')!, /required check 10-vm-os failed/, 'grub', work);
    }),
    scenario('(a) v2 healthy: blessed at its first boot, its ESP entry renamed without the counter', async (label) => {
      const m = await machine(label, 'vm-os-2-systemd-boot');
      assert.deepEqual(await espList(m.disk, '/loader/entries'), [ENTRY_V1, counted(TRIES, 0)], 'before: v2 counted with its tries, v1 not');
      const boots = await m.bootUntilPoweroff(3);
      assert.equal(boots.length, 1, 'one boot, then it powers off');
      assertChose(label, boots[0], counted(TRIES, 0), 'systemd-boot chose the new default, counted');
      assert.equal(boots[0].countPath, counted(TRIES - 1, 1), 'systemd-boot spent a try');
      assert.match(boots[0].health, /blessed/);
      assert.deepEqual(await espList(m.disk, '/loader/entries'), [ENTRY_V1, ENTRY_V2], 'after: v2 blessed, its counter gone');
      const host = await hostStatus(ROOT, m.disk, path.join(work, `status-${label}`));
      assert.equal(byVersion(host, '2').assessment.state, 'good');
      assert.equal(byVersion(host, '2').default, true);
      assert.equal(host.oracleDefaultVersion, '2', 'ostree admin status lists v2 first too');
      assert.deepEqual(host.assessmentNotes, []);
      assert.equal(byVersion(await guestStatus(m.disk), '2').booted, true);
    }),
  ];
  await Promise.all(all);
  if (!only || only.has('(cuts-bless)') || only.has('(cuts-reconcile)')) {
    log(`power cuts made: ${JSON.stringify(Object.fromEntries(cuts))}`);
    if (!only) assert.ok([...cuts.values()].reduce((a, b) => a + b, 0) >= 3, `at least 3 power cuts were made: ${JSON.stringify(Object.fromEntries(cuts))}`);
  }
  log(`scenario times: ${JSON.stringify(times)}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
