/**
 * The sysroot lock (ostree/lock) as ostree-ts holds it, seen by the real
 * ostree: `ostree admin cleanup` waits for it, and goes on once it is
 * released. (The other direction, another process holding it while
 * ostree-ts upgrades, is in test/host/preflight.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, requireOstree, tempDir } from '../helpers/env.js';
import { lockSysroot } from '../../src/sysroot/index.js';

test('the real ostree admin waits for the sysroot lock ostree-ts holds, then proceeds once it is released', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const sysroot = path.join(dir, 'sysroot');
  await mkdir(sysroot);
  await ok(ostree('admin', 'init-fs', sysroot));
  await ok(ostree('admin', 'os-init', 'debian', `--sysroot=${sysroot}`));

  const held = await lockSysroot(sysroot, { purpose: 'a test', now: () => 0 });
  await access(path.join(sysroot, 'ostree', 'lock.owner'));
  const child = spawn('ostree', ['admin', 'cleanup', `--sysroot=${sysroot}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  let code: number | null = null;
  const exited = new Promise<void>((resolve) => child.on('close', (c) => { code = c; resolve(); }));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(code, null, `ostree admin cleanup did not get past the lock: ${out}`);
  assert.match(out, /Waiting for sysroot lock/);
  await held.release();
  await exited;
  assert.equal(code, 0, out);
});
