/**
 * `remote refs`, `remote summary` and `summary --view` print what the real
 * ostree prints for the same repository (times pinned with TZ, C locale), and
 * a remote's summary is shown only after its signature passes the remote's
 * policy.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { CLI, ok, ostree, ots, requireOstree, run, tempDir, type RunResult } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { makeBasicTree } from '../helpers/trees.js';
import { atTime, makeGpgKey, requireGpgTools } from '../helpers/gpg.js';

// A UTF-8 locale: in plain C, GLib prints the no-break space of "1.6 kB" as '?'.
const ENV = { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };

function otsIn(tz: string, ...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { env: { ...ENV, TZ: tz } });
}

function ostreeIn(tz: string, ...args: string[]): Promise<RunResult> {
  return run('ostree', args, { env: { ...ENV, TZ: tz } });
}

/** Both tools print the same bytes, successfully. */
async function same(t: TestContext, tz: string, args: string[], what: string): Promise<string> {
  const ours = await otsIn(tz, ...args);
  const theirs = await ostreeIn(tz, ...args);
  assert.equal(theirs.code, 0, `ostree ${what}: ${theirs.stderr}`);
  assert.equal(ours.code, 0, `ostree-ts ${what}: ${ours.stderr}`);
  assert.equal(ours.stdout, theirs.stdout, `${what} (TZ=${tz})`);
  t.diagnostic(`${what}: ${ours.stdout.split('\n').length} lines alike`);
  return ours.stdout;
}

/** An archive repository made by the real ostree: versions, a large commit, collections, deltas, extra metadata. */
async function makeUpstream(dir: string): Promise<string> {
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const repo = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive', '--collection-id=org.example.Os'));
  const a = await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os/stable', `--tree=dir=${tree}`, '--add-metadata-string=version=1.0', '--timestamp=2021-03-04 05:06:07Z'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os/stable', `--tree=dir=${tree}`, '--add-metadata-string=version=1.1', '--timestamp=2021-06-07 08:09:10Z'));
  // Over 1000 bytes: shown as "1.6 kB" (with a no-break space).
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os/big', `--tree=dir=${tree}`, `--add-metadata-string=blob=${'a'.repeat(1500)}`, '--timestamp=2022-01-01 00:00:00Z'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'apps/zz', `--tree=dir=${tree}`, '--timestamp=2020-02-29 23:59:59Z'));
  await ok(ostree(`--repo=${repo}`, 'refs', '--collections', `--create=org.other.Col:other/ref`, a));
  await ok(ostree(`--repo=${repo}`, 'static-delta', 'generate', '--empty', '--to=os/stable'));
  await ok(ostree(`--repo=${repo}`, 'static-delta', 'generate', '--from=os/stable^', '--to=os/stable'));
  await ok(ostree(`--repo=${repo}`, 'summary', '-u', '--add-metadata=ostree.summary.expires=uint64 1234', "--add-metadata=x=<(1, 'a')>", '--add-metadata=y=@ay []', "--add-metadata=z=b'hey'"));
  return repo;
}

test('summary --view and --raw print what ostree prints', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = await makeUpstream(dir);
  for (const tz of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
    const text = await same(t, tz, [`--repo=${repo}`, 'summary', '--view'], 'summary --view');
    if (tz === 'UTC') {
      assert.match(text, /^\* \(org\.example\.Os, apps\/zz\)\n {4}Latest Commit \(\d+ bytes\):\n {6}[0-9a-f]{64}\n {4}Timestamp \(ostree\.commit\.timestamp\): 2020-02-29T23:59:59\+00\n/);
      assert.match(text, /Latest Commit \(1\.\d\u00a0kB\)/);
      assert.match(text, /\* \(org\.other\.Col, other\/ref\)/);
      assert.match(text, /Static Deltas \(ostree\.static-deltas\): \{'/);
      assert.match(text, /Repository Mode \(ostree\.summary\.mode\): archive-z2/);
    }
  }
  await same(t, 'UTC', [`--repo=${repo}`, 'summary', '--view', '--raw'], 'summary --view --raw');
  // A summary ostree-ts wrote reads the same in both tools.
  const ours = path.join(dir, 'ours');
  await ok(ots('init', `--repo=${ours}`, '--mode=archive'));
  await ok(ots(`--repo=${ours}`, 'commit', '-b', 'b', `--tree=dir=${path.join(dir, 'tree')}`, '--add-metadata-string=version=7'));
  await ok(ots(`--repo=${ours}`, 'summary', '-u'));
  await same(t, 'Europe/Berlin', [`--repo=${ours}`, 'summary', '--view'], 'summary --view of an ostree-ts summary');
  // The JSON document carries the same facts, typed.
  const doc = JSON.parse(await ok(ots(`--repo=${repo}`, 'summary', '--view', '--json'))) as {
    kind: string; mode: string; collectionId: string; staticDeltas: Record<string, string>;
    refs: Array<{ name: string; collectionId: string; timestamp?: number; version?: string; size: number; checksum: string }>;
  };
  assert.equal(doc.kind, 'Summary');
  assert.equal(doc.mode, 'archive-z2');
  assert.equal(doc.collectionId, 'org.example.Os');
  assert.equal(Object.keys(doc.staticDeltas).length, 2);
  const stable = doc.refs.find((r) => r.name === 'os/stable');
  assert.equal(stable?.version, '1.1');
  assert.equal(stable?.timestamp, Date.parse('2021-06-07T08:09:10Z') / 1000);
  assert.equal(stable?.checksum, await ok(ostree(`--repo=${repo}`, 'rev-parse', 'os/stable')));
  assert.ok(doc.refs.some((r) => r.collectionId === 'org.other.Col' && r.name === 'other/ref'));
});

test('remote refs and remote summary print what ostree prints, from an HTTP remote', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const upstream = await makeUpstream(dir);
  const { url } = await serveRepo(t, upstream, dir);
  const local = path.join(dir, 'local');
  await ok(ostree('init', `--repo=${local}`, '--mode=archive'));
  await ok(ostree(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
  const refs = await same(t, 'UTC', [`--repo=${local}`, 'remote', 'refs', 'origin'], 'remote refs');
  assert.deepEqual(refs.trim().split('\n'), ['origin:apps/zz', 'origin:os/big', 'origin:os/stable', 'origin:ostree-metadata']);
  // --revision (newer ostree has it): the tab-separated commit.
  const revs = await ok(ots(`--repo=${local}`, 'remote', 'refs', '--revision', 'origin'));
  const stable = await ok(ostree(`--repo=${upstream}`, 'rev-parse', 'os/stable'));
  assert.ok(revs.split('\n').includes(`origin:os/stable\t${stable}`), revs);
  await same(t, 'UTC', [`--repo=${local}`, 'remote', 'summary', 'origin'], 'remote summary');
  await same(t, 'Asia/Kolkata', [`--repo=${local}`, 'remote', 'summary', 'origin'], 'remote summary');
  await same(t, 'UTC', [`--repo=${local}`, 'remote', 'summary', '--raw', 'origin'], 'remote summary --raw');
  const doc = JSON.parse(await ok(ots(`--repo=${local}`, 'remote', 'refs', '--json', 'origin'))) as { kind: string; refs: Array<{ ref: string; checksum: string }> };
  assert.equal(doc.kind, 'RemoteRefs');
  assert.deepEqual(doc.refs.find((r) => r.ref === 'os/stable'), { ref: 'os/stable', checksum: stable });
  // No summary on the server: said plainly.
  const bare = path.join(dir, 'nosummary');
  await ok(ots('init', `--repo=${bare}`, '--mode=archive'));
  await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'empty', `file://${bare}`));
  const r = await ots(`--repo=${local}`, 'remote', 'refs', 'empty');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Remote 'empty' has no summary file/);
});

test('a remote summary is shown only when its signature passes the policy (ed25519, GPG)', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const upstream = await makeUpstream(dir);
  const keys = path.join(dir, 'keys');
  await ok(ots('sign', 'generate', `--out=${keys}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u', `--keys-file=${path.join(keys, 'secret.ed25519')}`));
  const { url } = await serveRepo(t, upstream, dir);
  const pub = (await readFile(path.join(keys, 'public.ed25519'), 'utf8')).trim();
  const local = path.join(dir, 'local');
  await ok(ots('init', `--repo=${local}`, '--mode=archive'));
  await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify-summary=true', `--set=verification-ed25519-key=${pub}`, 'origin', url));
  const good = await ok(otsIn('UTC', `--repo=${local}`, 'remote', 'summary', 'origin'));
  assert.match(good, new RegExp(`\\ned25519: Verification enabled, found 1 signature:\\n\\n  Good signature from key ${pub.replace(/[+/]/g, '\\$&')}$`));
  assert.match(await ok(ots(`--repo=${local}`, 'remote', 'refs', 'origin')), /^origin:apps\/zz$/m);
  // The summary changes after signing: refused, nothing printed.
  const summary = path.join(upstream, 'summary');
  const original = await readFile(summary);
  const changed = Buffer.from(original);
  changed[changed.length - 40] ^= 0x01;
  await writeFile(summary, changed);
  for (const verb of ['refs', 'summary']) {
    const r = await ots(`--repo=${local}`, 'remote', verb, 'origin');
    assert.equal(r.code, 1, verb);
    assert.equal(r.stdout, '', `remote ${verb} prints nothing from a refused summary`);
    assert.match(r.stderr, /Refusing the summary of remote 'origin' \(http:\/\/127\.0\.0\.1:\d+\/summary\): The summary has 1 ed25519 signature\(s\), none valid/);
  }
  await writeFile(summary, original);
  // Another key's signature does not count.
  const other = path.join(dir, 'other-keys');
  await ok(ots('sign', 'generate', `--out=${other}`));
  await ok(ots(`--repo=${local}`, 'config', 'set', 'remote "origin".verification-ed25519-key', (await readFile(path.join(other, 'public.ed25519'), 'utf8')).trim()));
  assert.match((await ots(`--repo=${local}`, 'remote', 'refs', 'origin')).stderr, /none valid from the 1 trusted key/);

  // GPG: ostree signs the summary; both tools show it the same way, signature included.
  // The key and the signature are made at fixed times (a one-digit day), so the printed date never depends on today's.
  if (!(await requireGpgTools(t))) return;
  const key = await makeGpgKey(dir, 'Release Key', '2020-01-01 00:00:00');
  const pubAsc = key.publicFile;
  await ok(atTime('2024-02-05 06:07:08', 'ostree', [`--repo=${upstream}`, 'summary', '-u', `--gpg-homedir=${key.home}`, `--gpg-sign=${key.fingerprint}`]));
  const both = path.join(dir, 'both');
  await ok(ostree('init', `--repo=${both}`, '--mode=archive'));
  await ok(ostree(`--repo=${both}`, 'remote', 'add', '--set=gpg-verify-summary=true', `--gpg-import=${pubAsc}`, 'origin', url));
  const shown = await same(t, 'UTC', [`--repo=${both}`, 'remote', 'summary', 'origin'], 'remote summary with a GPG signature');
  assert.ok(shown.endsWith(`\nGPG: Verification enabled, found 1 signature:\n\n  Signature made Mon Feb \u20075 06:07:08 2024 using RSA key ID ${key.keyId}\n  Good signature from "Release Key <release.key@example.org>"\n`), shown);
  await same(t, 'UTC', [`--repo=${both}`, 'remote', 'refs', 'origin'], 'remote refs under gpg-verify-summary');
  // A damaged summary.sig is refused by name.
  const sig = path.join(upstream, 'summary.sig');
  await writeFile(sig, Buffer.from('not a signature file'));
  const r = await ots(`--repo=${both}`, 'remote', 'summary', 'origin');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /summary signature file of remote 'origin' \(http:\/\/127\.0\.0\.1:\d+\/summary\.sig\) is not valid/);
  assert.notEqual((await ostree(`--repo=${both}`, 'remote', 'summary', 'origin')).code, 0, 'ostree refuses it too');
});
