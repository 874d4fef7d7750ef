/**
 * Deploying a chosen revision of the followed ref — a version found by
 * walking its history (commit objects only), or a checksum — and rebasing
 * onto another ref, through the library on an injected host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { deployRevision, rebase, upgrade } from '../../src/host/index.js';
import { ok, ostree, requireOstree, tempDir } from '../helpers/env.js';
import { hostEnv } from '../helpers/booted.js';
import { checkBootInvariants, deployDir, makeHost, makeOsTree, ostreeStatus, publish } from '../helpers/host.js';

test('deploy a version or a checksum of the followed ref, then rebase onto another ref', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-revision-');
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  const env = await hostEnv(t);
  const followed = (): Promise<string> => ok(ostree('rev-parse', `--repo=${host.repo}`, 'origin:os/stable'));
  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k1' }), { timestamp: 1_700_086_400, version: '2' });
  await upgrade({ sysroot: host.sysroot, env });
  assert.equal(await followed(), v2);

  // Version 1, older than what is deployed: found in the history of os/stable, deployed again (serial 1), pinned by override-commit.
  const r = await deployRevision('1', { sysroot: host.sysroot, env });
  assert.equal(r.outcome, 'updated');
  assert.equal(r.to, host.v1);
  assert.equal(r.version, '1');
  assert.equal(r.deployment, `${host.v1}.1`);
  assert.deepEqual(r.checks.find((c) => c.check === 'downgrade')?.ok, true, 'a named revision may be older');
  assert.deepEqual((await checkBootInvariants(host.sysroot)).map((d) => d.id), [`${host.v1}.1`, `${v2}.0`]);
  assert.deepEqual(await ostreeStatus(host.sysroot), [`${host.v1}.1`, `${v2}.0`]);
  const origin = await readFile(`${deployDir(host.sysroot, host.v1, 1)}.origin`, 'utf8');
  assert.match(origin, /^refspec=origin:os\/stable$/m);
  assert.match(origin, new RegExp(`^override-commit=${host.v1}$`, 'm'));
  assert.equal(await followed(), v2, 'deploying a revision leaves the followed ref alone');

  // A version the history does not have; then a checksum.
  await assert.rejects(deployRevision('9.9', { sysroot: host.sysroot, env }), { code: 'E_NOT_FOUND', message: /No commit with version 9\.9 in the history of origin:os\/stable/ });
  const byChecksum = await deployRevision(v2, { sysroot: host.sysroot, env });
  assert.equal(byChecksum.deployment, `${v2}.1`);

  // Rebase onto os/testing: its newest commit, and the origin follows it from now on.
  const v3 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v3'), { version: '3', kernel: 'k1' }), { ref: 'os/testing', timestamp: 1_700_172_800, version: '3' });
  const rb = await rebase('origin:os/testing', { sysroot: host.sysroot, env });
  assert.equal(rb.outcome, 'updated');
  assert.equal(rb.refspec, 'origin:os/testing');
  assert.equal(rb.to, v3);
  const rebased = await readFile(`${deployDir(host.sysroot, v3)}.origin`, 'utf8');
  assert.match(rebased, /^refspec=origin:os\/testing$/m);
  assert.doesNotMatch(rebased, /override-commit/);
  assert.equal(await ok(ostree('rev-parse', `--repo=${host.repo}`, 'origin:os/testing')), v3);
  assert.equal((await upgrade({ sysroot: host.sysroot, env })).outcome, 'no-update', 'the rebased host follows os/testing');
});
