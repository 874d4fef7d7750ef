/**
 * `remote gpg-import`, `gpg-list-keys`, `add-cookie`, `delete-cookie` and
 * `list-cookies`, side by side with the real ostree (same output, exit
 * statuses and files), and a pull that sends the remote's cookies and its
 * `--http-header` values with every request, to a server that records them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import { CLI, ok, ostree, requireOstree, run, tempDir } from '../helpers/env.js';
import { makeGpgKey, requireGpgTools } from '../helpers/gpg.js';
import { serveFiles } from '../helpers/serve.js';

const tools = {
  ostree: (args: string[], opts: { cwd?: string; input?: string } = {}) => run('ostree', args, { ...opts, env: { TZ: 'UTC', LANG: 'C.UTF-8' } }),
  'ostree-ts': (args: string[], opts: { cwd?: string; input?: string } = {}) => run(process.execPath, [CLI, ...args], { ...opts, env: { TZ: 'UTC', LANG: 'C.UTF-8' } }),
};

test('remote gpg-import and gpg-list-keys: the same output and statuses as ostree, and keyrings each tool reads', async (t) => {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t))) return;
  const dir = await tempDir(t, 'ots-remote-keys-');
  const a = await makeGpgKey(dir, 'Release Key', '2024-01-02 03:04:05');
  const b = await makeGpgKey(dir, 'Expiring Key', '2024-02-03 04:05:06', '20y');
  const transcripts: Record<string, string[]> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const repo = path.join(dir, `repo-${name}`);
    const lines: string[] = [];
    const step = async (label: string, args: string[], input?: string): Promise<void> => {
      const r = await tool([`--repo=${repo}`, ...args], { input });
      lines.push(`${label}: exit ${r.code}`, r.stdout.trimEnd());
    };
    await ok(tool(['init', `--repo=${repo}`, '--mode=archive']));
    await ok(tool([`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'origin', 'http://127.0.0.1:9/']));
    await step('import a', ['remote', 'gpg-import', '-k', a.publicFile, 'origin']);
    await step('import b', ['remote', 'gpg-import', '--keyring', b.publicFile, 'origin']);
    await step('import a again from stdin', ['remote', 'gpg-import', '--stdin', 'origin'], await readFile(a.publicFile, 'utf8'));
    await step('list', ['remote', 'gpg-list-keys', 'origin']);
    await step('list an unknown remote', ['remote', 'gpg-list-keys', 'nosuch']);
    transcripts[name] = lines;
    assert.match(lines.join('\n'), new RegExp(`Key: ${b.fingerprint}\\n  Created: Sat Feb[ \\u2007]+3 04:05:06 2024\\n  Expires: `), `${name} lists the expiring key with its dates`);
  }
  assert.deepEqual(transcripts['ostree-ts'], transcripts.ostree);
  // Each tool lists the keyring the other wrote.
  const theirs = await ok(tools.ostree([`--repo=${path.join(dir, 'repo-ostree-ts')}`, 'remote', 'gpg-list-keys', 'origin']));
  const ours = await ok(tools['ostree-ts']([`--repo=${path.join(dir, 'repo-ostree')}`, 'remote', 'gpg-list-keys', 'origin']));
  assert.equal(theirs, ours);
  assert.match(ours, new RegExp(`Key: ${a.fingerprint}\\n`));
});

test('remote add-cookie, list-cookies and delete-cookie: the same jar, output and statuses as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-remote-cookies-');
  const transcripts: Record<string, string[]> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const repo = path.join(dir, `repo-${name}`);
    await ok(tool(['init', `--repo=${repo}`, '--mode=archive']));
    await ok(tool([`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'origin', 'http://127.0.0.1:9/']));
    const lines: string[] = [];
    // From inside the repository: ostree 2022.7 reads the jar for list-cookies relative to the current directory.
    const step = async (args: string[]): Promise<void> => {
      const r = await tool(['--repo=.', 'remote', ...args], { cwd: repo });
      lines.push(`${args.join(' ')}: exit ${r.code}`, r.stdout.replace(/^Expires: .*$/gm, 'Expires: (25 years on)').trimEnd());
    };
    await step(['add-cookie', 'origin', '127.0.0.1', '/', 'session', 'abc123']);
    await step(['add-cookie', 'origin', '.example.org', '/repo', 'token', 'xyz']);
    await step(['list-cookies', 'origin']);
    await step(['delete-cookie', 'origin', '127.0.0.1', '/', 'session']);
    await step(['delete-cookie', 'origin', '127.0.0.1', '/', 'session']);
    await step(['list-cookies', 'origin']);
    await step(['add-cookie', 'origin', 'too', 'few']);
    const jar = await readFile(path.join(repo, 'origin.cookies.txt'), 'utf8');
    lines.push(jar.replace(/\t\d+\t/g, '\t(expiry)\t'));
    const expiry = Number(/\t(\d+)\t/.exec(jar)?.[1]);
    const years = (expiry - Date.now() / 1000) / (365.25 * 86400);
    assert.ok(years > 24.9 && years < 25.1, `${name}: a cookie expires 25 years on (${years.toFixed(2)})`);
    transcripts[name] = lines;
  }
  assert.deepEqual(transcripts['ostree-ts'], transcripts.ostree);
});

test('a pull sends the remote\'s cookies that apply and every --http-header', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-pull-cookies-');
  const src = path.join(dir, 'src');
  await ok(ostree('init', `--repo=${src}`, '--mode=archive'));
  const tree = path.join(dir, 'tree');
  await ok(run('mkdir', ['-p', path.join(tree, 'usr')]));
  await ok(run('sh', ['-c', `echo hello > ${tree}/usr/hello`]));
  const commit = await ok(ostree('commit', `--repo=${src}`, '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1700000000'));
  await ok(ostree('summary', '-u', `--repo=${src}`));
  const served = await serveFiles(t, src, { prefix: '/repo/' });
  const repo = path.join(dir, 'repo');
  const cli = (...args: string[]) => run(process.execPath, [CLI, `--repo=${repo}`, ...args]);
  await ok(cli('init', '--mode=archive'));
  await ok(cli('remote', 'add', '--no-gpg-verify', 'origin', served.url));
  await ok(cli('remote', 'add-cookie', 'origin', '127.0.0.1', '/repo', 'session', 'abc123'));
  await ok(cli('remote', 'add-cookie', 'origin', '127.0.0.1', '/other', 'elsewhere', 'no'));
  await ok(cli('remote', 'add-cookie', 'origin', 'example.org', '/', 'foreign', 'no'));
  await ok(cli('pull', '--http-header=X-Test=yes', 'origin', 'main'));
  assert.equal(await ok(cli('rev-parse', 'origin:main')), commit);
  assert.ok(served.requests.length >= 4, `requests: ${served.requests.map((s) => s.url).join(' ')}`);
  for (const s of served.requests) {
    assert.equal(s.headers.cookie, 'session=abc123', `${s.url} carried the cookie of its path only`);
    assert.equal(s.headers['x-test'], 'yes', `${s.url} carried the header`);
  }
  const bad = await cli('pull', '--http-header=NoValue', 'origin', 'main');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--http-header=NoValue: give NAME=VALUE/);
});
