/**
 * `show` of a GPG-signed commit prints ostree's "Found N signatures" block:
 * with no key known (public key not found), against a key directory
 * (--gpg-homedir) and against a remote's trusted keys (--gpg-verify-remote),
 * word for word as the real ostree prints it, expiry lines included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, requireOstree, run, tempDir } from '../helpers/env.js';
import { makeGpgKey, requireGpgTools } from '../helpers/gpg.js';

const env = { TZ: 'UTC', LANG: 'C.UTF-8' };
const tools = {
  ostree: (...args: string[]) => run('ostree', args, { env }),
  'ostree-ts': (...args: string[]) => run(process.execPath, [CLI, ...args], { env }),
};

test('show prints the signature block ostree prints, with and without the signing keys', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  const dir = await tempDir(t, 'ots-show-sigs-');
  const a = await makeGpgKey(dir, 'Release Key', '2024-01-02 03:04:05');
  const b = await makeGpgKey(dir, 'Expiring Key', '2024-02-03 04:05:06', '20y');
  const repo = path.join(dir, 'repo');
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'f'), 'x\n');
  await ok(tools.ostree('init', `--repo=${repo}`, '--mode=archive'));
  await ok(tools.ostree(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', `--tree=dir=${tree}`));
  await ok(tools.ostree(`--repo=${repo}`, 'commit', '-b', 'unsigned', '--timestamp=@1700000000', `--tree=dir=${tree}`, '-s', 'plain'));
  for (const k of [a, b]) await ok(tools.ostree(`--repo=${repo}`, 'gpg-sign', `--gpg-homedir=${k.home}`, 'main', k.fingerprint));
  // A key directory both tools read: the public keys as a binary pubring.gpg.
  const keydir = path.join(dir, 'keys');
  await mkdir(keydir, { mode: 0o700 });
  await ok(run('sh', ['-c', `gpg --homedir '${a.home}' --batch --export > '${keydir}/pubring.gpg' && gpg --homedir '${b.home}' --batch --export >> '${keydir}/pubring.gpg'`]));
  await ok(tools.ostree(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', `--gpg-import=${a.publicFile}`, 'origin', 'http://127.0.0.1:9/'));
  const shown: Record<string, string[]> = {};
  for (const [name, tool] of Object.entries(tools)) {
    shown[name] = [];
    for (const args of [['main'], [`--gpg-homedir=${keydir}`, 'main'], ['--gpg-verify-remote=origin', 'main'], ['unsigned']]) {
      const r = await tool(`--repo=${repo}`, 'show', ...args);
      shown[name].push(`show ${args.join(' ')}: exit ${r.code}\n${r.stdout}`);
    }
  }
  for (let i = 0; i < shown.ostree.length; i++) assert.equal(shown['ostree-ts'][i], shown.ostree[i]);
  const all = shown.ostree.join('\n');
  assert.match(all, /Found 2 signatures:/);
  assert.match(all, /Can't check signature: public key not found/);
  assert.match(all, /Good signature from "Release Key <release\.key@example\.org>"/);
  assert.match(all, /Key expires /);
  assert.doesNotMatch(shown.ostree[3], /signature/i, 'an unsigned commit shows no block');
});
