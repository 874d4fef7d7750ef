/**
 * An upgrade killed at any point (SIGKILL: no cleanup handler runs) leaves a
 * sysroot that boots the old or the new deployment, never something else, and
 * a later upgrade completes it.
 *
 * v1 is deployed by the real ostree; v2 (another kernel, so /boot changes,
 * and a few MB of changed files) is published on a served repository. One
 * uninterrupted upgrade measures the phases from its progress lines (start,
 * pull, checkout, /etc merge and boot configuration, cleanup); then each round
 * takes a fresh copy of the v1 sysroot, starts `atomic upgrade`, and kills its
 * whole process group at a random point of one phase (the phases in turn):
 * after each kill the boot configuration is checked from the files and by
 * the real `ostree admin status`, then the upgrade is run again to the end and
 * the result checked (v2 the default, v1 the rollback, the repository sound).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, removeTree, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import {
  ATOMIC, OS, atomic, checkBootInvariants, makeHost, makeOsTree, ostreeStatus, publish, refsOf, type OsTreeOptions,
} from '../helpers/host.js';

const PHASES = ['start', 'pull', 'checkout', 'bootconfig', 'cleanup'] as const;
type Phase = (typeof PHASES)[number];

/** The progress line that opens each phase (after `start`, which opens at the spawn). */
const MARKERS: Array<[Exclude<Phase, 'start'>, RegExp]> = [
  ['pull', /repo-space:/],
  ['checkout', /^Checking out /],
  ['bootconfig', /^Merging \/etc/],
  ['cleanup', /^Boot configuration written/],
];

interface Run {
  /** ms after the spawn at which each phase opened. */
  opened: Partial<Record<Phase, number>>;
  /** The last progress line seen before the end (or the kill). */
  lastLine: string;
  killed: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

/**
 * Run `atomic upgrade` in its own process group; with `kill`, SIGKILL the
 * group `delay` ms after phase `phase` opens (if it is still running).
 */
function upgrade(sysroot: string, kill?: { phase: Phase; delay: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [ATOMIC, `--sysroot=${sysroot}`, 'upgrade'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const r: Run = { opened: { start: 0 }, lastLine: '', killed: false, code: null, signal: null, stderr: '', ms: 0 };
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (phase: Phase): void => {
      if (!kill || kill.phase !== phase) return;
      timer = setTimeout(() => {
        if (done || child.pid === undefined) return;
        r.killed = true;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          r.killed = false; // already gone
        }
      }, kill.delay);
    };
    arm('start');
    let partial = '';
    child.stderr.on('data', (b: Buffer) => {
      r.stderr += b.toString();
      partial += b.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (r.killed) return;
        r.lastLine = line;
        for (const [phase, re] of MARKERS) {
          if (re.test(line) && r.opened[phase] === undefined) {
            r.opened[phase] = Date.now() - t0;
            arm(phase);
          }
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      r.code = code;
      r.signal = signal;
      r.ms = Date.now() - t0;
      if (signal !== 'SIGKILL') r.killed = false;
      resolve(r);
    });
  });
}

/** About 300 files per version; v2 changes its kernel and some 2.5 MB of binaries and data. */
const BIG: Omit<OsTreeOptions, 'version' | 'kernel'> = {
  kernelSize: 384 * 1024, initramfsSize: 192 * 1024, docs: 70, tools: 20, blobs: 24, changed: 14,
};

/** Remove a sysroot: only deployment directories carry the immutable flag. */
async function removeSysroot(s: string): Promise<void> {
  const deploy = path.join(s, 'ostree', 'deploy', OS, 'deploy');
  const names = await readdir(deploy).catch(() => [] as string[]);
  if (names.length) await run('chattr', ['-f', '-i', ...names.map((n) => path.join(deploy, n))]);
  await removeTree(s);
}

test('SIGKILL at any point of an upgrade: the sysroot boots v1 or v2, and the next upgrade completes it', { timeout: 240_000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'flock', 'util-linux'))) return;
  const dir = await tempDir(t, 'ots-kill-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1', ...BIG }, deployWithOstree: true });
  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2', ...BIG }), { timestamp: 1_700_086_400, version: '2' });
  const template = host.sysroot;
  const v1Id = `${host.v1}.0`;
  const v2Id = `${v2}.0`;
  assert.deepEqual(await ostreeStatus(template), [v1Id]);
  const fresh = async (name: string): Promise<string> => {
    const s = path.join(dir, name);
    await ok(run('cp', ['-a', template, s]), 'copy the v1 sysroot');
    return s;
  };

  const strays: string[] = [];
  /** After the upgrade went through: v2 the default, v1 the rollback, on every account. */
  const assertUpgraded = async (s: string, why: string): Promise<void> => {
    const boot = await checkBootInvariants(s);
    assert.deepEqual(boot.map((d) => d.id), [v2Id, v1Id], `${why}: entries`);
    assert.notEqual(boot[0].entry, boot[1].entry);
    assert.deepEqual(await ostreeStatus(s), [v2Id, v1Id], `${why}: ostree admin status`);
    const fsck = await ostree('fsck', `--repo=${path.join(s, 'ostree', 'repo')}`);
    assert.equal(fsck.code, 0, `${why}: ostree fsck\n${fsck.stderr}${fsck.stdout}`);
    // The followed ref names v2, and both deployed commits are kept by refs (a prune keeps them).
    const refs = await refsOf(path.join(s, 'ostree', 'repo'));
    assert.equal(refs['origin:os/stable'], v2, `${why}: origin:os/stable`);
    for (const c of [host.v1, v2]) assert.ok(Object.values(refs).includes(c), `${why}: a ref keeps ${c}: ${JSON.stringify(refs)}`);
    const deployed = (await readdir(path.join(s, 'ostree', 'deploy', OS, 'deploy'))).sort();
    // (A temporary file of an origin write the kill interrupted is counted, not failed: see strays.)
    const tmp = /^\.[0-9a-f]{64}\.[0-9]+\.origin\.tmp-[A-Za-z0-9_-]+$/;
    for (const n of deployed) if (tmp.test(n)) strays.push(n);
    assert.deepEqual(deployed.filter((n) => !tmp.test(n)), [v1Id, `${v1Id}.origin`, v2Id, `${v2Id}.origin`].sort(), `${why}: deployment directories`);
  };

  // One uninterrupted upgrade: the phases and how long each lasts.
  const m0 = await fresh('measure');
  const measured = await upgrade(m0);
  assert.equal(measured.code, 0, measured.stderr);
  for (const [phase] of MARKERS) assert.ok(measured.opened[phase] !== undefined, `phase ${phase} seen in:\n${measured.stderr}`);
  await assertUpgraded(m0, 'uninterrupted');
  const st = JSON.parse(await ok(atomic(`--sysroot=${m0}`, 'status', '--json'), 'atomic status')) as { deployments: Array<{ checksum: string; default: boolean; version: string }> };
  assert.deepEqual(st.deployments.map((d) => [d.checksum, d.default, d.version]), [[v2, true, '2'], [host.v1, false, '1']]);
  await removeSysroot(m0);
  const ends: Record<Phase, number> = {
    start: measured.opened.pull as number, pull: measured.opened.checkout as number, checkout: measured.opened.bootconfig as number,
    bootconfig: measured.opened.cleanup as number, cleanup: measured.ms,
  };
  const length = (p: Phase): number => Math.max(1, ends[p] - (measured.opened[p] as number));
  t.diagnostic(`uninterrupted upgrade ${measured.ms} ms: ${PHASES.map((p) => `${p} ${length(p)} ms`).join(', ')}`);

  // Where the time goes (reported, never asserted).
  const spent: Record<string, number> = {};
  const timed = async <T>(what: string, p: Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await p;
    } finally {
      spent[what] = (spent[what] ?? 0) + Date.now() - t0;
    }
  };
  const KILLS = 20;
  const tally: Record<string, number> = {};
  let kills = 0;
  for (let round = 0; kills < KILLS && round < KILLS + 10; round++) {
    const phase = PHASES[round % PHASES.length];
    const delay = Math.floor(Math.random() * length(phase) * 0.95);
    const s = await timed('copy', fresh(`round-${round}`));
    const r = await timed('killed upgrade', upgrade(s, { phase, delay }));
    const at = `round ${round}: kill ${delay} ms into ${phase} (after ${JSON.stringify(r.lastLine)})`;
    if (r.killed) kills++;
    else assert.equal(r.code, 0, `${at}: the upgrade was not killed, yet failed:\n${r.stderr}`);

    // The sysroot as a boot loader and the real ostree see it now.
    let boot;
    try {
      boot = await checkBootInvariants(s);
    } catch (e) {
      assert.fail(`${at}: ${(e as Error).message}`);
    }
    const first = boot[0].id;
    assert.ok(first === v1Id || first === v2Id, `${at}: the default is ${first}`);
    // Before the switch only v1; after it, v2 with v1 as the rollback. Nothing in between.
    const ids = boot.map((d) => d.id);
    assert.deepEqual(ids, first === v1Id ? [v1Id] : [v2Id, v1Id], `${at}: the deployments`);
    assert.deepEqual(await ostreeStatus(s), ids, `${at}: ostree admin status lists the entries' deployments`);
    const state = !r.killed ? 'finished' : first === v2Id ? 'v2 default' : 'v1 default';
    tally[`${phase}: ${state}`] = (tally[`${phase}: ${state}`] ?? 0) + 1;

    // The next upgrade completes it (or finds it done).
    const again = await timed('second upgrade', atomic(`--sysroot=${s}`, 'upgrade', '--lock-wait'));
    assert.equal(again.code, 0, `${at}: the upgrade after the kill failed:\n${again.stderr}`);
    if (first === v2Id) assert.match(again.stdout, /No update available/, `${at}: v2 was already the default`);
    else assert.match(again.stdout, new RegExp(`Deployed ${v2Id}`), `${at}: the second upgrade deploys v2`);
    await timed('final checks', assertUpgraded(s, `${at}, upgraded again`));
    await timed('remove', removeSysroot(s));
  }
  t.diagnostic(`kills per phase and what they left: ${Object.entries(tally).sort().map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  t.diagnostic(`time spent: ${Object.entries(spent).map(([k, ms]) => `${k} ${ms} ms`).join(', ')}`);
  if (strays.length) t.diagnostic(`temporary files left in ostree/deploy/${OS}/deploy by killed upgrades: ${strays.length}`);
  assert.ok(kills >= KILLS, `${kills} upgrades were killed (${KILLS} wanted)`);
});
