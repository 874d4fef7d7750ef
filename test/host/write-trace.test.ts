/**
 * OSTREE_TS_TEST_TRACE=1: the atomic verbs print each durable write of the
 * boot assessment on stderr as it is reached (`ostree-ts: write point NAME
 * (N)`), the progress markers by which the VM boot test (test/vm) cuts a
 * machine's power between two known writes. Off by default; a fault plan
 * still stops where it says with the trace on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { run, tempDir } from '../helpers/env.js';
import { ATOMIC, makeHost, makeOsTree, publish } from '../helpers/host.js';
import { putFile } from '../helpers/trees.js';

const points = (stderr: string): string[] => [...stderr.matchAll(/^ostree-ts: write point ([a-z-]+) \(([0-9]+)\)$/gm)].map((m) => `${m[1]} ${m[2]}`);

test('OSTREE_TS_TEST_TRACE=1 prints every write point of a boot in order; unset, none; with a fault plan, the trace ends where it stops', async (t) => {
  const dir = await tempDir(t, 'ots-trace-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1' } });
  const S = host.sysroot;
  await mkdir(path.join(S, 'boot', 'efi'), { recursive: true });
  await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=systemd-boot\nesp=/boot/efi\ntries=2\n');
  await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  const quiet = await run(process.execPath, [ATOMIC, `--sysroot=${S}`, 'upgrade'], { env: { OSTREE_TS_TEST_TRACE: '' } });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.deepEqual(points(quiet.stderr), [], 'no trace unless asked');
  // Cut after the second write of the boot: the firmware's rename of the counted entry on the ESP, and one more.
  const stopped = await run(process.execPath, [ATOMIC, `--sysroot=${S}`, 'simulate-boot'], { env: { OSTREE_TS_TEST_TRACE: '1', OSTREE_TS_TEST_FAULT: '@2' } });
  assert.notEqual(stopped.code, 0, 'the fault plan stopped it');
  const cut = points(stopped.stderr);
  assert.deepEqual(cut.map((p) => p.split(' ')[1]), ['1', '2'], `two points reached, then the stop:\n${stopped.stderr}`);
  assert.equal(cut[0], 'esp-entry-rename 1', stopped.stderr);
  // The next boot goes to its end: every point numbered in order, the blessing's record last.
  const traced = await run(process.execPath, [ATOMIC, `--sysroot=${S}`, 'simulate-boot'], { env: { OSTREE_TS_TEST_TRACE: '1' } });
  assert.equal(traced.code, 0, traced.stderr);
  const seen = points(traced.stderr);
  assert.ok(seen.length >= 2, traced.stderr);
  assert.equal(seen.at(-1)?.split(' ')[0], 'record', traced.stderr);
  assert.deepEqual(seen.map((p) => Number(p.split(' ')[1])), seen.map((_p, i) => i + 1), 'numbered in order');
});
