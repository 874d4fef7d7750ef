/**
 * The update reads the host through its environment: the free space it
 * reports decides the `repo-space` check, its clock dates the lock's note.
 * And the preflight registry runs its checks in one fixed order, stage by
 * stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CHECKS, STAGES, upgrade, type UpdateEvent } from '../../src/host/index.js';
import { freeSpace } from '../../src/io/host-env.js';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { hostEnv } from '../helpers/booted.js';
import { checkBootInvariants, makeHost, makeOsTree, objectCount, snapshotSysroot } from '../helpers/host.js';

test('preflight: the registry lists every check once, in the order of their stages', () => {
  assert.deepEqual(CHECKS.map((c) => [c.name, c.stage]), [
    ['signature', 'target'], ['downgrade', 'update'], ['quarantine', 'update'], ['repo-space', 'fetch'], ['boot-space', 'deploy'], ['etc-merge', 'deploy'],
  ]);
  const order = CHECKS.map((c) => STAGES.indexOf(c.stage));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});

test('repo-space: the free space the host reports refuses an update the commit says will not fit, before anything is fetched', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-hostenv-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  // v2 committed by the real ostree, which lists its objects' sizes (ostree.sizes).
  const tree = await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k1', blobs: 4, changed: 4 });
  const v2 = await ok(ostree('commit', `--repo=${host.upstream}`, '-b', 'os/stable', '--generate-sizes', '--timestamp=@1700086400',
    '--add-metadata-string=version=2', '-s', 'Test OS 2', `--tree=dir=${tree}`), 'ostree commit --generate-sizes');
  await ok(ots(`--repo=${host.upstream}`, 'summary', '-u'), 'summary');

  const tight = await hostEnv(t, { freeSpace: async (p) => (p === host.repo ? 4096 : freeSpace(p)) });
  const checks: string[] = [];
  const onEvent = (e: UpdateEvent): void => {
    if (e.type === 'check') checks.push(`${e.result.check} ${e.result.ok ? 'ok' : 'FAILED'}`);
  };
  const before = await snapshotSysroot(host.sysroot);
  const objects = await objectCount(host.repo);
  await assert.rejects(upgrade({ sysroot: host.sysroot, env: tight, onEvent }), (e: unknown) => {
    const err = e as { code: string; data: { check: string }; message: string };
    assert.equal(err.code, 'E_PREFLIGHT');
    assert.equal(err.data.check, 'repo-space');
    assert.match(err.message, new RegExp(`^Preflight check 'repo-space' failed: the update needs [0-9.]+ KiB in ${host.repo}, and its filesystem has 4\\.0 KiB free\\..* Nothing was changed\\.$`));
    return true;
  });
  assert.deepEqual(checks, ['signature ok', 'downgrade ok', 'quarantine ok', 'repo-space FAILED']);
  assert.deepEqual(await snapshotSysroot(host.sysroot), before, 'nothing changed');
  assert.equal(await objectCount(host.repo), objects, 'nothing fetched');

  // --check stops before the fetch stage: the update is reported, its room not checked.
  const check = await upgrade({ sysroot: host.sysroot, env: tight, check: true });
  assert.equal(check.outcome, 'available');
  assert.deepEqual(check.checks.map((c) => c.check), ['signature', 'downgrade', 'quarantine']);

  // With room, it goes through; the lock's note, written while it held the lock, is dated by the host's clock.
  const roomy = await hostEnv(t, { freeSpace: async () => 1 << 30, now: Date.UTC(2027, 5, 6, 7, 8, 9) });
  let note = '';
  const r = await upgrade({
    sysroot: host.sysroot, env: roomy,
    onEvent: (e) => {
      if (e.type === 'resolve') note = readFileSync(path.join(host.sysroot, 'ostree', 'lock.owner'), 'utf8');
    },
  });
  assert.equal(r.outcome, 'updated');
  assert.match(r.checks.find((c) => c.check === 'repo-space')?.detail ?? '', /^[0-9.]+ KiB needed, 1\.0 GiB free$/);
  assert.match(note, /^atomic upgrade \(pid \d+, since 2027-06-06T07:08:09Z\)\n$/);
  assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.csum), [v2, host.v1]);
});
