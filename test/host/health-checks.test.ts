/**
 * The health-check runner on real scripts: greenboot's directories and
 * order, pass / fail / inconclusive by exit status, a hung check killed at
 * its timeout with every process of its group, bounded output, scripts that
 * cannot run refused before any runs; and atomic.conf's checked values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, stat, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { readAtomicConfig, atomicConfPath } from '../../src/host/atomic-conf.js';
import { findScripts, runHealthChecks, type RunScriptsOptions } from '../../src/host/checks.js';
import { installUnits } from '../../src/host/units.js';
import { grubSnippet } from '../../src/sysroot/bootloader/grub.js';
import { KeyFile } from '../../src/format/keyfile.js';
import { runProcess } from '../../src/io/process.js';
import { tempDir } from '../helpers/env.js';
import { putFile } from '../helpers/trees.js';

function opts(deployRoot: string, extra: Partial<RunScriptsOptions> = {}): RunScriptsOptions {
  return { deployRoot, env: { ATOMIC_SYSROOT: '/sysroot-of-test' }, timeout: 30, inconclusiveCode: 75, maxOutput: 4096, ...extra };
}

/** Whether a process still runs: not gone, and not a zombie waiting for a reaper (killed processes re-parented to a PID 1 that does not reap stay zombies). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  return !/^\d+ \(.*\) [ZX] /s.test(stat);
}

/** A killed process takes a moment to be torn down: wait for it (bounded), then say whether it still runs. */
async function stillAlive(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await alive(pid))) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

test('checks run in greenboot order (/usr/lib then /etc, by name; required first), in the deployment root, with its variables; the verdict follows the required ones', async (t) => {
  const root = await tempDir(t, 'ots-checks-');
  const log = path.join(root, 'log');
  const script = (name: string, status: number): string => `#!/bin/sh\necho "${name} cwd=$(pwd) sysroot=$ATOMIC_SYSROOT" >> ${log}\necho "output of ${name}"\nexit ${status}\n`;
  await putFile(root, 'usr/lib/greenboot/check/required.d/20-b.sh', script('lib-20-b', 0), 0o755);
  await putFile(root, 'usr/lib/greenboot/check/required.d/10-a.sh', script('lib-10-a', 0), 0o755);
  await putFile(root, 'etc/greenboot/check/required.d/05-etc.sh', script('etc-05', 0), 0o755);
  await putFile(root, 'etc/greenboot/check/wanted.d/01-wanted.sh', script('wanted-01', 1), 0o755);
  await putFile(root, 'etc/greenboot/check/required.d/.hidden', script('hidden', 1), 0o755);
  await mkdir(path.join(root, 'etc/greenboot/check/required.d/subdir'));
  await symlink('/dev/null', path.join(root, 'usr/lib/greenboot/check/required.d/30-masked.sh'));

  const r = await runHealthChecks(opts(root));
  assert.deepEqual(r.checks.map((c) => [c.class, c.name, c.result]), [
    ['required', '10-a.sh', 'pass'], ['required', '20-b.sh', 'pass'], ['required', '05-etc.sh', 'pass'], ['wanted', '01-wanted.sh', 'fail'],
  ]);
  assert.equal(r.verdict, 'pass', 'a wanted failure does not decide');
  assert.equal(r.checks[0].output, 'output of lib-10-a\n');
  assert.match(r.checks[3].output, /^output of wanted-01\n\[01-wanted\.sh exited with status 1\]$/);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['lib-10-a', 'lib-20-b', 'etc-05', 'wanted-01']);
  for (const l of lines) assert.equal(l.split(' ').slice(1).join(' '), `cwd=${root} sysroot=/sysroot-of-test`);
});

test('exit 75 is inconclusive, a configured code too; a required failure skips the required checks after it (as greenboot does)', async (t) => {
  const root = await tempDir(t, 'ots-checks-');
  await putFile(root, 'etc/greenboot/check/required.d/10-net.sh', '#!/bin/sh\necho no network\nexit 75\n', 0o755);
  let r = await runHealthChecks(opts(root));
  assert.deepEqual(r.checks.map((c) => c.result), ['inconclusive']);
  assert.equal(r.verdict, 'inconclusive');
  r = await runHealthChecks(opts(root, { inconclusiveCode: 42 }));
  assert.deepEqual(r.checks.map((c) => c.result), ['fail'], 'with another code configured, 75 is a failure');
  assert.equal(r.verdict, 'fail');

  await putFile(root, 'etc/greenboot/check/required.d/05-bad.sh', '#!/bin/sh\necho disk full >&2\nexit 3\n', 0o755);
  r = await runHealthChecks(opts(root));
  assert.deepEqual(r.checks.map((c) => [c.name, c.result]), [['05-bad.sh', 'fail']]);
  assert.equal(r.verdict, 'fail');
  assert.match(r.checks[0].output, /^disk full\n\[05-bad\.sh exited with status 3\]$/);
});

test('a hung check is killed at its timeout with its whole process group (children too), counts as failed, and the run goes on', async (t) => {
  const root = await tempDir(t, 'ots-checks-');
  const pids = path.join(root, 'pids');
  // The check starts a child and a grandchild that would run for minutes, then waits.
  await putFile(root, 'etc/greenboot/check/required.d/10-hang.sh',
    `#!/bin/sh\nsleep 300 &\necho $! >> ${pids}\nsh -c 'sleep 300 & echo $! >> ${pids}; wait' &\necho $$ >> ${pids}\necho started\nwait\n`, 0o755);
  await putFile(root, 'etc/greenboot/check/wanted.d/20-after.sh', '#!/bin/sh\necho after\n', 0o755);
  const r = await runHealthChecks(opts(root, { timeout: 30, timeouts: { '10-hang.sh': 1 } }));
  assert.deepEqual(r.checks.map((c) => [c.name, c.result]), [['10-hang.sh', 'timeout'], ['20-after.sh', 'pass']]);
  assert.equal(r.verdict, 'fail');
  assert.match(r.checks[0].output, /^started\n\[10-hang\.sh killed after its timeout of 1 s, with its process group\]$/);
  const started = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
  assert.equal(started.length, 3, 'the check, its child and its grandchild wrote their pids');
  // SIGKILL is delivered before the group's pipes close, which is when the run ended.
  for (const pid of started) assert.equal(await stillAlive(pid), false, `process ${pid} of the hung check's group is gone`);
});

test('output is kept up to the bound, the rest counted; a check that exits leaves no process of its group behind', async (t) => {
  const root = await tempDir(t, 'ots-checks-');
  const r = await runProcess('/bin/sh', ['-c', 'head -c 10000 /dev/zero | tr "\\0" x; echo; sleep 300 & echo $! > child; exit 0'], { cwd: root, env: { PATH: '/usr/bin:/bin' }, maxOutput: 1000, timeoutMs: 60_000 });
  assert.equal(r.code, 0);
  assert.equal(r.timedOut, false);
  assert.equal(r.output.length, 1000);
  assert.equal(r.dropped, 10001 - 1000);
  const child = Number((await readFile(path.join(root, 'child'), 'utf8')).trim());
  assert.equal(await stillAlive(child), false, 'the background child went with its check');
  const missing = await runProcess(path.join(root, 'no-such-program'), [], { env: {} });
  assert.equal(missing.spawnError?.code, 'ENOENT');
  assert.equal(missing.code, null);
});

test('a check that is not executable, or a dangling link, is refused naming the file before any check runs', async (t) => {
  const root = await tempDir(t, 'ots-checks-');
  const ran = path.join(root, 'ran');
  await putFile(root, 'usr/lib/greenboot/check/required.d/10-ok.sh', `#!/bin/sh\ntouch ${ran}\n`, 0o755);
  await putFile(root, 'etc/greenboot/check/wanted.d/50-plain.sh', '#!/bin/sh\nexit 0\n', 0o644);
  await assert.rejects(runHealthChecks(opts(root)), (e: Error & { code?: string; data?: Record<string, unknown> }) => {
    assert.equal(e.code, 'E_HEALTH_CHECK');
    assert.equal(e.data?.file, path.join(root, 'etc/greenboot/check/wanted.d/50-plain.sh'));
    assert.match(e.message, /^The health check etc\/greenboot\/check\/wanted\.d\/50-plain\.sh in .* is not executable \(mode 0644\)\. Make it executable \(chmod \+x\) or remove it; no check was run\.$/);
    return true;
  });
  assert.equal(await readFile(ran).then(() => true, () => false), false, 'no check ran');
  await symlink('/nonexistent/check', path.join(root, 'etc/greenboot/green.d'));
  assert.deepEqual(await findScripts(root, 'green.d'), [], 'a green.d that is a dangling link is no directory: nothing to run');
});

test('atomic.conf: defaults, every key read, the repository\'s boot-counting-tries, and bad values refused naming the file, key and range', async (t) => {
  const root = await tempDir(t, 'ots-conf-');
  let c = await readAtomicConfig(root, null);
  assert.deepEqual({ tries: c.tries, from: c.triesFrom, backend: c.backend, esp: c.esp, timeout: c.checkTimeout, code: c.inconclusiveCode, max: c.maxOutput, reboot: c.rebootCommand },
    { tries: 3, from: 'default', backend: 'bls', esp: null, timeout: 60, code: 75, max: 65536, reboot: ['systemctl', 'reboot'] });
  const repoConfig = KeyFile.parse('[core]\nrepo_version=1\n[sysroot]\nboot-counting-tries=5\n', '/x/ostree/repo/config');
  c = await readAtomicConfig(root, repoConfig);
  assert.deepEqual([c.tries, c.triesFrom], [5, 'repo config']);
  const file = atomicConfPath(root);
  await putFile(root, 'etc/ostree-ts/atomic.conf', "[boot]\ntries=2\nbackend=systemd-boot\nesp=/efi\n\n[health-check]\ntimeout=10\ninconclusive-code=99\nmax-output=1024\nreboot-command=/usr/sbin/reboot --force 'now please'\n\n[check 50-net.sh]\ntimeout=300\n");
  c = await readAtomicConfig(root, repoConfig);
  assert.deepEqual({ tries: c.tries, from: c.triesFrom, backend: c.backend, esp: c.esp, timeout: c.checkTimeout, per: c.checkTimeouts, code: c.inconclusiveCode, max: c.maxOutput, reboot: c.rebootCommand },
    { tries: 2, from: 'atomic.conf', backend: 'systemd-boot', esp: '/efi', timeout: 10, per: { '50-net.sh': 300 }, code: 99, max: 1024, reboot: ['/usr/sbin/reboot', '--force', 'now please'] });
  await putFile(root, 'etc/ostree-ts/atomic.conf', '[boot]\ntries=0\n');
  assert.equal((await readAtomicConfig(root, repoConfig)).tries, 0, '0 turns counting off');

  const bad: Array<[string, RegExp]> = [
    ['[boot]\ntries=abc\n', /\[boot\] tries=abc is not allowed: it must be a whole number of boot attempts from 0 to 99\./],
    ['[boot]\ntries=100\n', /\[boot\] tries=100 is not allowed: .* from 0 to 99\./],
    ['[boot]\nbackend=lilo\n', /\[boot\] backend=lilo is not allowed: it must be one of bls, grub, systemd-boot\./],
    ['[boot]\nesp=boot/efi\n', /\[boot\] esp=boot\/efi is not allowed: it must be an absolute path/],
    ['[health-check]\ntimeout=0\n', /\[health-check\] timeout=0 is not allowed: it must be a whole number of seconds from 1 to 86400\./],
    ['[health-check]\ninconclusive-code=0\n', /\[health-check\] inconclusive-code=0 is not allowed: .* from 1 to 255\./],
    ['[health-check]\nmax-output=12\n', /\[health-check\] max-output=12 is not allowed: .* bytes from 256 to 16777216\./],
    ['[health-check]\nreboot-command=\n', /\[health-check\] reboot-command= is not a command/],
    ['[health-check]\ntimout=10\n', /unknown key timout in \[health-check\]; it takes timeout, inconclusive-code, max-output, reboot-command\./],
    ['[bot]\ntries=1\n', /unknown group \[bot\]/],
    ['[check 10-x.sh]\ntimeout=-1\n', /\[check 10-x\.sh\] timeout=-1 is not allowed/],
    ['tries=1\n', /Cannot parse line 1/],
  ];
  for (const [text, re] of bad) {
    await putFile(root, 'etc/ostree-ts/atomic.conf', text);
    await assert.rejects(readAtomicConfig(root, null), (e: Error & { code?: string; data?: Record<string, unknown> }) => {
      assert.equal(e.code, 'E_CONFIG', text);
      assert.equal(e.data?.file, file, text);
      assert.ok(e.message.includes(file), `${text}: the message names ${file}: ${e.message}`);
      assert.match(e.message, re, text);
      return true;
    });
  }
  await putFile(root, 'etc/ostree-ts/atomic.conf', '');
  const repoBad = KeyFile.parse('[sysroot]\nboot-counting-tries=many\n', '/x/ostree/repo/config');
  await assert.rejects(readAtomicConfig(root, repoBad), /\/x\/ostree\/repo\/config: \[sysroot\] boot-counting-tries=many is not allowed/);
});

test('install-units writes both units and their enablement links (boot-complete.target requires the health check)', async (t) => {
  const root = await tempDir(t, 'ots-units-');
  const r = await installUnits(root, { exec: '/usr/local/bin/atomic' });
  const dir = path.join(root, 'etc', 'systemd', 'system');
  assert.deepEqual(r.units, [path.join(dir, 'atomic-boot-reconcile.service'), path.join(dir, 'atomic-health-check.service')]);
  const hc = await readFile(path.join(dir, 'atomic-health-check.service'), 'utf8');
  for (const line of ['Before=boot-complete.target', 'RequiredBy=boot-complete.target', 'ExecStart=/usr/local/bin/atomic health-check', 'Type=oneshot']) assert.ok(hc.split('\n').includes(line), line);
  const rc = await readFile(path.join(dir, 'atomic-boot-reconcile.service'), 'utf8');
  for (const line of ['DefaultDependencies=no', 'Before=sysinit.target atomic-health-check.service shutdown.target', 'ExecStart=/usr/local/bin/atomic boot-reconcile', 'WantedBy=sysinit.target']) assert.ok(rc.split('\n').includes(line), line);
  assert.equal(await readlink(path.join(dir, 'boot-complete.target.requires', 'atomic-health-check.service')), '../atomic-health-check.service');
  assert.equal(await readlink(path.join(dir, 'sysinit.target.wants', 'atomic-boot-reconcile.service')), '../atomic-boot-reconcile.service');
  // Again: the same result, no error for the existing links.
  assert.deepEqual((await installUnits(root, { exec: '/usr/local/bin/atomic' })).links, r.links);
  assert.equal(r.grubScript, null, 'the GRUB script only when asked for');
  // The GRUB path: the script that counts in the grubenv, executable, in /etc/grub.d.
  const g = await installUnits(root, { grubTries: 12 });
  assert.equal(g.grubScript, path.join(root, 'etc', 'grub.d', '08_ostree_ts_boot_counting'));
  assert.equal((await stat(g.grubScript)).mode & 0o777, 0o755);
  const script = await readFile(g.grubScript, 'utf8');
  assert.equal(script, grubSnippet(12));
  assert.match(script, /elif \[ "\$\{boot_counter\}" = "12" \]; then\n    set boot_counter=11\n/);
});
