/**
 * More `pull` options, each run with both tools against the same served
 * repository: --url (another URL than the remote's), --timestamp-check-from-rev,
 * --bareuseronly-files (a setuid or world-writable file refused, nothing
 * stored, no ref moved), --disable-fsync; and --network-retries against a
 * server that fails each first request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, requireRoot, tempDir } from '../helpers/env.js';
import { serveFiles, serveRepo } from '../helpers/serve.js';

type Tool = 'ostree' | 'ostree-ts';
const TOOLS: Tool[] = ['ostree', 'ostree-ts'];
const tool = (t: Tool, ...args: string[]): ReturnType<typeof ots> => (t === 'ostree' ? ostree(...args) : ots(...args));

async function source(dir: string, files: Record<string, { data: string; mode: number }>, timestamp: string, branch = 'main', existing?: string): Promise<{ repo: string; commit: string }> {
  const repo = existing ?? path.join(dir, 'src');
  if (!existing) await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const tree = path.join(dir, `tree-${timestamp.replace(/\W/g, '')}`);
  await mkdir(path.join(tree, 'usr', 'bin'), { recursive: true });
  for (const [name, f] of Object.entries(files)) {
    await writeFile(path.join(tree, name), f.data);
    await chmod(path.join(tree, name), f.mode);
  }
  const commit = await ok(ostree('commit', `--repo=${repo}`, '-b', branch, `--tree=dir=${tree}`, `--timestamp=${timestamp}`));
  await ok(ostree('summary', '-u', `--repo=${repo}`));
  return { repo, commit };
}

async function client(dir: string, t: Tool, url: string): Promise<string> {
  const repo = path.join(dir, `client-${t}-${Math.random().toString(36).slice(2, 8)}`);
  await ok(tool(t, 'init', `--repo=${repo}`, '--mode=bare-user'));
  await ok(tool(t, 'remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'origin', url));
  return repo;
}

test('pull --url, --timestamp-check-from-rev and --disable-fsync do what ostree does with them', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-pull-url-');
  const old = await source(dir, { 'usr/bin/app': { data: 'v1\n', mode: 0o755 } }, '@1700000000', 'old');
  const cur = await source(dir, { 'usr/bin/app': { data: 'v2\n', mode: 0o755 } }, '@1700100000', 'main', old.repo);
  const served = await serveRepo(t, old.repo, dir);
  for (const tl of TOOLS) {
    // The remote's own URL is a closed loopback port: only --url reaches the server.
    const repo = await client(dir, tl, 'http://127.0.0.1:9/');
    const r = await tool(tl, 'pull', `--repo=${repo}`, `--url=${served.url}`, '--disable-fsync', 'origin', 'main');
    assert.equal(r.code, 0, `${tl} pull --url: ${r.stderr}`);
    assert.equal(await ok(tool(tl, 'rev-parse', `--repo=${repo}`, 'origin:main')), cur.commit, `${tl} pulled main through --url`);
    assert.equal(await ok(tool(tl, 'remote', 'show-url', `--repo=${repo}`, 'origin')), 'http://127.0.0.1:9/', `${tl} left the remote's URL as it was`);
    await ok(ostree('fsck', `--repo=${repo}`), `ostree fsck after ${tl} pull --disable-fsync`);
    // old is older than main: refused against main, taken against itself.
    const refused = await tool(tl, 'pull', `--repo=${repo}`, `--url=${served.url}`, `--timestamp-check-from-rev=${cur.commit}`, 'origin', 'old');
    assert.notEqual(refused.code, 0, `${tl} refuses a commit older than --timestamp-check-from-rev`);
    assert.match(refused.stderr, /chronologically older/i, `${tl}: ${refused.stderr}`);
    assert.equal((await tool(tl, 'rev-parse', `--repo=${repo}`, 'origin:old')).code, 1, `${tl} moved no ref`);
    const taken = await tool(tl, 'pull', `--repo=${repo}`, `--url=${served.url}`, `--timestamp-check-from-rev=${old.commit}`, 'origin', 'old');
    assert.equal(taken.code, 0, `${tl}: ${taken.stderr}`);
  }
});

test('pull --bareuseronly-files refuses setuid and world-writable files as ostree does; without it they are pulled', async (t) => {
  if (!(await requireOstree(t)) || !requireRoot(t, 'a setuid file in the source tree')) return;
  const dir = await tempDir(t, 'ots-pull-buof-');
  const src = await source(dir, { 'usr/bin/su': { data: 'su\n', mode: 0o4755 }, 'usr/bin/ok': { data: 'ok\n', mode: 0o755 } }, '@1700000000');
  const wide = await source(dir, { 'usr/bin/open': { data: 'open\n', mode: 0o777 } }, '@1700000001', 'wide', src.repo);
  const served = await serveRepo(t, src.repo, dir);
  for (const tl of TOOLS) {
    for (const [branch, mode, bits] of [['main', '0104755', '04000'], ['wide', '0100777', '00002']]) {
      const repo = await client(dir, tl, served.url);
      const r = await tool(tl, 'pull', `--repo=${repo}`, '--bareuseronly-files', 'origin', branch);
      assert.notEqual(r.code, 0, `${tl} --bareuseronly-files refuses ${branch}`);
      assert.match(r.stderr, new RegExp(`Content object [0-9a-f]{64}: invalid mode ${mode} with bits ${bits}`), `${tl}: ${r.stderr}`);
      assert.equal((await tool(tl, 'rev-parse', `--repo=${repo}`, `origin:${branch}`)).code, 1, `${tl} moved no ref`);
      const plain = await tool(tl, 'pull', `--repo=${repo}`, 'origin', branch);
      assert.equal(plain.code, 0, `${tl} without the flag: ${plain.stderr}`);
    }
  }
  assert.ok(wide.commit);
  // pull-local takes it too, from the source repository on disk.
  for (const tl of TOOLS) {
    const repo = path.join(dir, `local-${tl}`);
    await ok(tool(tl, 'init', `--repo=${repo}`, '--mode=bare-user'));
    const r = await tool(tl, 'pull-local', `--repo=${repo}`, '--bareuseronly-files', src.repo, 'main');
    assert.notEqual(r.code, 0, `${tl} pull-local --bareuseronly-files refuses the setuid file`);
    assert.match(r.stderr, /Content object [0-9a-f]{64}: invalid mode 0104755 with bits 04000/, `${tl}: ${r.stderr}`);
    assert.equal((await tool(tl, 'rev-parse', `--repo=${repo}`, 'main')).code, 1, `${tl} moved no ref`);
    const plain = await tool(tl, 'pull-local', `--repo=${repo}`, '--per-object-fsync', src.repo, 'main');
    assert.equal(plain.code, 0, `${tl} pull-local --per-object-fsync: ${plain.stderr}`);
    await ok(ostree('fsck', `--repo=${repo}`));
  }
});

test('pull --network-retries: a server failing each first request is survived with retries, not with --network-retries=0', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-pull-retries-');
  const src = await source(dir, { 'usr/bin/app': { data: 'app\n', mode: 0o755 } }, '@1700000000');
  const failed = new Set<string>();
  // Each path fails once (503) before it is served.
  const { url } = await serveFiles(t, src.repo, {
    intercept: (u, res) => {
      if (failed.has(u)) return false;
      failed.add(u);
      res.writeHead(503, { 'Content-Length': 0 });
      res.end();
      return true;
    },
  });
  const none = await client(dir, 'ostree-ts', url);
  const r0 = await ots('pull', `--repo=${none}`, '--network-retries=0', 'origin', 'main');
  assert.notEqual(r0.code, 0, 'no retry: the first 503 ends the pull');
  assert.match(r0.stderr, /503/);
  failed.clear();
  const some = await client(dir, 'ostree-ts', url);
  const r1 = await ots('pull', `--repo=${some}`, '--network-retries=2', 'origin', 'main');
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(await ok(ots('rev-parse', `--repo=${some}`, 'origin:main')), src.commit);
});

test('pull --localcache-repo takes the objects a local repository holds (any mode) and fetches only the rest', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-pull-localcache-');
  const one = await source(dir, { 'usr/bin/app': { data: 'app v1\n', mode: 0o755 }, 'usr/bin/tool': { data: 'tool\n', mode: 0o755 } }, '@1700000000');
  const two = await source(dir, { 'usr/bin/app': { data: 'app v2\n', mode: 0o755 }, 'usr/bin/tool': { data: 'tool\n', mode: 0o755 } }, '@1700000100', 'main', one.repo);
  const served = await serveFiles(t, one.repo);
  const url = served.url;
  const requests = served.requests;
  for (const mode of ['bare-user', 'archive']) {
    // The cache holds the first commit (not the second): its objects shared with the second are not fetched.
    const cache = path.join(dir, `cache-${mode}`);
    await ok(ostree('init', `--repo=${cache}`, `--mode=${mode}`));
    await ok(ostree('pull-local', `--repo=${cache}`, one.repo, one.commit));
    const plain = await client(dir, 'ostree-ts', url);
    requests.length = 0;
    await ok(ots('pull', `--repo=${plain}`, 'origin', 'main'));
    const all = requests.filter((r) => r.url.startsWith('/objects/')).length;
    const repo = await client(dir, 'ostree-ts', url);
    requests.length = 0;
    await ok(ots('pull', `--repo=${repo}`, `--localcache-repo=${cache}`, 'origin', 'main'));
    const fetched = requests.filter((r) => r.url.startsWith('/objects/')).map((r) => r.url);
    assert.equal(await ok(ots('rev-parse', `--repo=${repo}`, 'origin:main')), two.commit);
    await ok(ostree('fsck', `--repo=${repo}`));
    // What differs: the new app, the dirtree holding it and the root's, and the commit.
    assert.ok(fetched.length > 0 && fetched.length < all, `${mode} cache: ${fetched.length} objects fetched of ${all}: ${fetched.join(' ')}`);
    assert.ok(fetched.some((r) => r.endsWith('.commit')), 'the new commit came from the remote');
  }
});
