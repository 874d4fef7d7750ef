/**
 * Signature times (issue 12). GnuPG and the real ostree sign at fixed times
 * under faketime, so nothing here depends on today's date:
 * - `remote summary` prints a signature's date as ostree does (GLib's %c: a
 *   one-digit day padded with a figure space), in UTC and in a zone with a
 *   half-hour offset, for one- and two-digit days and for a date after the
 *   host's clock;
 * - a signature made after the host's clock is good (pull, atomic upgrade),
 *   as gpgme finds it; a key that has expired since it signed is refused, as
 *   ostree refuses it;
 * - our verifier takes the clock from its caller.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { CLI, isRoot, ok, ostree, ots, requireOstree, run, tempDir, type RunResult } from '../helpers/env.js';
import { atTime, makeGpgKey, requireGpgTools, revokeGpgKey, type GpgKey } from '../helpers/gpg.js';
import { atomic, makeHost, makeOsTree, publish } from '../helpers/host.js';
import { serveRepo } from '../helpers/serve.js';
import { makeBasicTree } from '../helpers/trees.js';
import { Repo } from '../../src/repo/index.js';
import { loadPublicKeys, verifySignatures, type VerifyPolicy } from '../../src/sign/index.js';

const FIGURE_SPACE = '\u2007';
/** When the keys are made: long before any signature below. */
const KEYS_MADE = '2020-01-01 00:00:00';

function inZone(tool: 'ots' | 'ostree', tz: string, lang: string, args: string[]): Promise<RunResult> {
  const env = { TZ: tz, LC_ALL: lang, LANG: lang };
  return tool === 'ots' ? run(process.execPath, [CLI, ...args], { env }) : run('ostree', args, { env });
}

/** ostree signs REV of `repo` (or, with no REV, its summary) with `key`, its clock at `when`. */
function ostreeSignsAt(when: string, repo: string, key: GpgKey, rev?: string): Promise<string> {
  const args = rev === undefined
    ? [`--repo=${repo}`, 'summary', '-u', `--gpg-homedir=${key.home}`, `--gpg-sign=${key.fingerprint}`]
    : [`--repo=${repo}`, 'gpg-sign', `--gpg-homedir=${key.home}`, rev, key.fingerprint];
  return ok(atTime(when, 'ostree', args), `ostree signs at ${when}`);
}

test('remote summary prints signature dates as ostree does: one- and two-digit days, a future date, UTC and +05:30', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const upstream = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${upstream}`, '--mode=archive'));
  await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'os/stable', `--tree=dir=${tree}`, '--timestamp=2021-01-01 00:00:00Z'));
  const key = await makeGpgKey(dir, 'Release Key', KEYS_MADE);
  const { url } = await serveRepo(t, upstream, dir);
  const local = path.join(dir, 'local');
  await ok(ostree('init', `--repo=${local}`, '--mode=archive'));
  await ok(ostree(`--repo=${local}`, 'remote', 'add', '--set=gpg-verify-summary=true', `--gpg-import=${key.publicFile}`, 'origin', url));

  const cases: Array<{ when: string; expect: Record<string, string> }> = [
    // Day 9 in UTC, day 10 in Kolkata.
    { when: '2021-03-09 20:00:00', expect: { UTC: `Tue Mar ${FIGURE_SPACE}9 20:00:00 2021`, 'Asia/Kolkata': 'Wed Mar 10 01:30:00 2021' } },
    { when: '2021-03-14 12:34:56', expect: { UTC: 'Sun Mar 14 12:34:56 2021', 'Asia/Kolkata': 'Sun Mar 14 18:04:56 2021' } },
    // After this host's clock, whenever the test runs.
    { when: '2099-05-06 07:08:09', expect: { UTC: `Wed May ${FIGURE_SPACE}6 07:08:09 2099`, 'Asia/Kolkata': `Wed May ${FIGURE_SPACE}6 12:38:09 2099` } },
  ];
  for (const c of cases) {
    await ostreeSignsAt(c.when, upstream, key);
    for (const [tz, shown] of Object.entries(c.expect)) {
      const args = [`--repo=${local}`, 'remote', 'summary', 'origin'];
      const theirs = await inZone('ostree', tz, 'C.UTF-8', args);
      const ours = await inZone('ots', tz, 'C.UTF-8', args);
      assert.equal(theirs.code, 0, `ostree verifies the summary signed at ${c.when}: ${theirs.stderr}`);
      assert.equal(ours.code, 0, `ostree-ts verifies the summary signed at ${c.when}: ${ours.stderr}`);
      const line = `  Signature made ${shown} using RSA key ID ${key.keyId}\n`;
      assert.ok(theirs.stdout.includes(line), `ostree prints ${JSON.stringify(line)} (TZ=${tz}):\n${theirs.stdout}`);
      assert.equal(ours.stdout, theirs.stdout, `remote summary signed at ${c.when}, TZ=${tz}`);
    }
    // Plain C: GLib writes the figure space as '?', and so do we.
    const args = [`--repo=${local}`, 'remote', 'summary', 'origin'];
    const theirs = await inZone('ostree', 'UTC', 'C', args);
    const ours = await inZone('ots', 'UTC', 'C', args);
    assert.equal(ours.stdout, theirs.stdout, `remote summary signed at ${c.when}, LC_ALL=C`);
    t.diagnostic(`signed at ${c.when}: the same signature lines in UTC, Asia/Kolkata and LC_ALL=C`);
  }
});

test('a commit signed after the host\'s clock is pulled; one by a key that has expired or been revoked since is refused, as by ostree', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  const live = await makeGpgKey(dir, 'Live Key', KEYS_MADE);
  const expired = await makeGpgKey(dir, 'Old Key', KEYS_MADE, '1y');
  const future = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os/future', `--tree=dir=${tree}`, '--timestamp=@1600000000'));
  const old = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os/old', `--tree=dir=${tree}`, '--timestamp=@1600000001'));
  await ostreeSignsAt('2099-05-06 07:08:09', upstream, live, future);
  await ostreeSignsAt('2020-06-09 10:00:00', upstream, expired, old);
  // Signed while good, revoked afterwards.
  const revoked = await makeGpgKey(dir, 'Revoked Key', KEYS_MADE);
  const withdrawn = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os/revoked', `--tree=dir=${tree}`, '--timestamp=@1600000002'));
  await ostreeSignsAt('2020-06-09 10:00:00', upstream, revoked, withdrawn);
  await revokeGpgKey(revoked, '2021-01-01 00:00:00');
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'));
  const keys = path.join(dir, 'trusted.asc');
  await writeFile(keys, [live, expired, revoked].map((k) => readFileSync(k.publicFile, 'utf8')).join(''));
  const { url } = await serveRepo(t, upstream, dir);

  const verdicts: Record<string, Record<string, number>> = {};
  for (const [name, tool] of [['ostree', ostree], ['ostree-ts', ots]] as const) {
    const repo = path.join(dir, `client-${name}`);
    await ok(tool('init', `--repo=${repo}`, '--mode=archive'));
    await ok(tool(`--repo=${repo}`, 'remote', 'add', `--gpg-import=${keys}`, 'origin', url));
    verdicts[name] = {};
    for (const ref of ['os/future', 'os/old', 'os/revoked']) {
      const r = await tool(`--repo=${repo}`, 'pull', 'origin', ref);
      verdicts[name][ref] = r.code;
      if (name === 'ostree-ts' && ref === 'os/old') assert.match(r.stderr, /key that expired at 2020-12-31T00:00:00Z/, r.stderr);
      if (name === 'ostree-ts' && ref === 'os/revoked') assert.match(r.stderr, /key that has been revoked/, r.stderr);
    }
    if (name === 'ostree-ts') assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'origin:os/future')), future);
  }
  assert.deepEqual(verdicts['ostree-ts'], verdicts.ostree, 'the same verdicts as ostree');
  assert.deepEqual(verdicts.ostree, { 'os/future': 0, 'os/old': 1, 'os/revoked': 1 }, 'future-dated: good; expired or revoked key: refused');
});

test('verification takes its clock from the caller: an expired key is good at a time it was valid', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const repoPath = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repoPath}`, '--mode=archive'));
  const key = await makeGpgKey(dir, 'Old Key', KEYS_MADE, '1y');
  const csum = await ok(ots(`--repo=${repoPath}`, 'commit', '-b', 'os', `--tree=dir=${tree}`, '--timestamp=@1600000000'));
  await ostreeSignsAt('2020-06-09 10:00:00', repoPath, key, csum);
  const repo = await Repo.open(repoPath);
  const data = await repo.readMetadataBytes('commit', csum);
  const sigs = await repo.loadCommitMeta(csum);
  const policy: VerifyPolicy = { source: 'the test', gpgVerify: true, gpgVerifySummary: false, gpgKeys: [key.publicFile], signVerify: [], signVerifySummary: [], ed25519Keys: [] };
  assert.ok(await loadPublicKeys([key.publicFile]));
  const at = (iso: string): Date => new Date(iso);
  // While the key was valid, even before the signature was made (a clock behind): good.
  for (const now of ['2020-07-01T00:00:00Z', '2020-03-01T00:00:00Z']) {
    const r = await verifySignatures(data, sigs, policy, { kind: 'commit', checksum: csum }, at(now));
    assert.equal(r.gpg?.fingerprint.toUpperCase(), key.fingerprint, `good at ${now}`);
    assert.equal(r.gpg?.created, Date.parse('2020-06-09T10:00:00Z') / 1000);
  }
  // After it expired, and before it existed: refused, saying why.
  const refusals: Array<[string, RegExp]> = [
    ['2021-06-01T00:00:00Z', /from a key that expired at 2020-12-31T00:00:00Z/],
    ['2019-06-01T00:00:00Z', /was created at 2020-01-01T00:00:00Z, after this host's clock/],
  ];
  for (const [now, why] of refusals) {
    await assert.rejects(verifySignatures(data, sigs, policy, { kind: 'commit', checksum: csum }, at(now)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_SIGNATURE');
      assert.match(e.message, why);
      return true;
    }, `refused at ${now}`);
  }
});

test('atomic upgrade accepts an update signed after the host\'s clock and refuses one from an expired key, as ostree', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  if (!isRoot) {
    if (process.env.CI === 'true') throw new Error('deployments need root');
    t.skip('deployments need root');
    return;
  }
  const dir = await tempDir(t);
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  const live = await makeGpgKey(dir, 'Live Key', KEYS_MADE);
  const expired = await makeGpgKey(dir, 'Old Key', KEYS_MADE, '1y');
  const keys = path.join(dir, 'trusted.asc');
  await writeFile(keys, `${await readFile(live.publicFile, 'utf8')}${await readFile(expired.publicFile, 'utf8')}`);
  await ok(ots(`--repo=${host.repo}`, 'config', 'set', 'remote "origin".gpg-verify', 'true'));
  await ok(ots(`--repo=${host.repo}`, 'config', 'set', 'remote "origin".gpgkeypath', keys));
  const scratch = path.join(dir, 'scratch');
  await ok(ostree('init', `--repo=${scratch}`, '--mode=archive'));
  await ok(ostree(`--repo=${scratch}`, 'remote', 'add', `--gpg-import=${keys}`, 'origin', host.url));

  const v2 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k1' }), { timestamp: 1_700_100_000, version: '2' });
  await ostreeSignsAt('2099-05-06 07:08:09', host.upstream, live, v2);
  assert.equal((await ostree(`--repo=${scratch}`, 'pull', '--commit-metadata-only', 'origin', 'os/stable')).code, 0, 'ostree accepts v2');
  await ok(atomic(`--sysroot=${host.sysroot}`, 'upgrade'), 'atomic upgrade to v2');
  const status = JSON.parse(await ok(atomic(`--sysroot=${host.sysroot}`, 'status', '--json'))) as { deployments: Array<{ checksum: string; signature: { state: string } }> };
  assert.equal(status.deployments[0].checksum, v2);
  assert.equal(status.deployments[0].signature.state, 'verified');

  const v3 = await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v3'), { version: '3', kernel: 'k1' }), { timestamp: 1_700_200_000, version: '3' });
  await ostreeSignsAt('2020-06-09 10:00:00', host.upstream, expired, v3);
  assert.notEqual((await ostree(`--repo=${scratch}`, 'pull', '--commit-metadata-only', 'origin', 'os/stable')).code, 0, 'ostree refuses v3');
  const r = await atomic(`--sysroot=${host.sysroot}`, 'upgrade');
  assert.equal(r.code, 4, `atomic's exit status for a refused signature: ${r.stderr}`);
  assert.match(r.stderr, /Preflight check 'signature' failed/);
  assert.match(r.stderr, /expired at 2020-12-31T00:00:00Z/);
  const after = JSON.parse(await ok(atomic(`--sysroot=${host.sysroot}`, 'status', '--json'))) as { deployments: Array<{ checksum: string }> };
  assert.equal(after.deployments[0].checksum, v2, 'v2 stays the default');
});
