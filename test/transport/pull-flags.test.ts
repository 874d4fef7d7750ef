/**
 * Issue 5 (pull options): each option of `pull` does what the real
 * `ostree pull` does with it, on the same served repository — the same
 * objects, commits, partial markers and refs are left behind:
 * --depth (0, 1, -1, and a parent missing on the server), --commit-metadata-only,
 * --mirror (refs/heads, the summary copied; ostree then pulls from the
 * mirror), --subpath; and --timestamp-check refuses an older commit in both
 * with the ref unchanged. --dry-run changes nothing and counts what a real
 * pull then fetches (and its bytes, when the commit lists object sizes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { snapshotTree } from '../helpers/snapshot.js';
import type { OstreeTsError } from '../../src/errors/index.js';
import { Repo } from '../../src/repo/index.js';
import { pull } from '../../src/transport/index.js';

type Tool = 'ostree' | 'ostree-ts';
const tool = (t: Tool, ...args: string[]): ReturnType<typeof ots> => (t === 'ostree' ? ostree(...args) : ots(...args));

/** objects/XX/REST.TYPE of every object, sorted. */
async function objects(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const fan of await readdir(path.join(repo, 'objects')).catch(() => [] as string[])) {
    for (const n of await readdir(path.join(repo, 'objects', fan))) out.push(`${fan}${n}`);
  }
  return out.sort();
}

async function state(repo: string): Promise<string[]> {
  return (await readdir(path.join(repo, 'state')).catch(() => [] as string[])).sort();
}

async function refFiles(repo: string): Promise<string[]> {
  const out = (await run('find', [path.join(repo, 'refs'), '-type', 'f'])).stdout.trim().split('\n').filter(Boolean);
  return out.map((p) => path.relative(repo, p)).sort();
}

/** A fresh client repository of `mode` with remote `origin` at `url`. */
async function client(t: Tool, dir: string, name: string, url: string, mode = 'bare-user'): Promise<string> {
  const repo = path.join(dir, `${t}-${name}`);
  await ok(tool(t, 'init', `--repo=${repo}`, `--mode=${mode}`));
  await ok(tool(t, `--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
  return repo;
}

interface Upstream {
  dir: string;
  repo: string;
  url: string;
  /** os: v1 <- v2 <- v3, oldest first. */
  commits: string[];
  extra: string;
}

/** An archive repository written by ostree: three commits of `os` (a changing tree, 2020-2022) and a ref `extra`. */
async function upstream(t: Parameters<typeof tempDir>[0], opts: { sizes?: boolean } = {}): Promise<Upstream> {
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  const repo = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const put = async (rel: string, body: string): Promise<void> => {
    await mkdir(path.dirname(path.join(tree, rel)), { recursive: true });
    await writeFile(path.join(tree, rel), body);
  };
  for (let i = 0; i < 30; i++) await put(`usr/share/doc/pkg${i}/README`, `package ${i}\n`.repeat(i + 1));
  await put('usr/bin/tool', '#!/bin/sh\necho tool\n');
  await put('etc/config', 'a=1\n');
  await put('other/x', 'x\n');
  const commits: string[] = [];
  const sizes = opts.sizes ? ['--generate-sizes'] : [];
  for (const [i, year] of [2020, 2021, 2022].entries()) {
    await put('etc/config', `a=${i}\n`);
    await put(`usr/share/doc/new${i}/NEWS`, `release ${i}\n`);
    commits.push(await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${tree}`, '-s', `v${i + 1}`, `--timestamp=${year}-06-01`, ...sizes)));
  }
  const extra = await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'extra', `--tree=dir=${path.join(tree, 'other')}`, '-s', 'extra'));
  await ok(ostree(`--repo=${repo}`, 'summary', '-u'));
  const { url } = await serveRepo(t, repo, dir);
  return { dir, repo, url, commits, extra };
}

/** Pull with both tools into fresh repositories; returns both repositories. */
async function both(u: Upstream, name: string, args: string[], mode = 'bare-user', url = u.url): Promise<Record<Tool, string>> {
  const out = {} as Record<Tool, string>;
  for (const t of ['ostree', 'ostree-ts'] as const) {
    const repo = await client(t, u.dir, name, url, mode);
    await ok(tool(t, `--repo=${repo}`, 'pull', ...args), `${t} pull ${args.join(' ')}`);
    out[t] = repo;
  }
  return out;
}

async function sameResult(r: Record<Tool, string>, what: string): Promise<void> {
  assert.deepEqual(await objects(r['ostree-ts']), await objects(r.ostree), `${what}: the same objects`);
  assert.deepEqual(await state(r['ostree-ts']), await state(r.ostree), `${what}: the same partial markers`);
  assert.deepEqual(await refFiles(r['ostree-ts']), await refFiles(r.ostree), `${what}: the same refs`);
  const f = await ostree('fsck', `--repo=${r['ostree-ts']}`);
  assert.equal(f.code, 0, `${what}: ostree fsck of ours\n${f.stderr}`);
}

test('--depth: 0, 1 and -1 leave the commits ostree leaves; a parent missing on the server ends the history quietly', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const commitsIn = async (repo: string): Promise<string[]> => (await objects(repo)).filter((o) => o.endsWith('.commit'));
  for (const [depth, count] of [['0', 1], ['1', 2], ['-1', 3]] as const) {
    const r = await both(u, `depth${depth}`, [`--depth=${depth}`, 'origin', 'os']);
    await sameResult(r, `--depth=${depth}`);
    assert.equal((await commitsIn(r['ostree-ts'])).length, count, `--depth=${depth}: ${count} commits`);
    assert.deepEqual(await state(r['ostree-ts']), [], 'every pulled commit is complete');
  }
  // The oldest commit is gone from a copy of the server.
  const cut = path.join(u.dir, 'cut');
  await ok(run('cp', ['-a', u.repo, cut]));
  const v1 = u.commits[0];
  await rm(path.join(cut, 'objects', v1.slice(0, 2), `${v1.slice(2)}.commit`));
  const { url } = await serveRepo(t, cut, u.dir);
  const r = await both(u, 'depth-cut', ['--depth=-1', 'origin', 'os'], 'bare-user', url);
  await sameResult(r, '--depth=-1 with v1 missing');
  assert.equal((await commitsIn(r['ostree-ts'])).length, 2);
  const log = await ok(ots(`--repo=${r['ostree-ts']}`, 'log', 'origin:os'));
  assert.equal((log.match(/^commit /gm) ?? []).length, 2, 'log shows the two commits pulled');
});

test('--commit-metadata-only: commits only, left partial as ostree leaves them; a full pull then completes them', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const r = await both(u, 'meta', ['--commit-metadata-only', '--depth=-1', 'origin', 'os']);
  await sameResult(r, '--commit-metadata-only --depth=-1');
  const ours = r['ostree-ts'];
  assert.deepEqual((await objects(ours)).map((o) => o.replace(/^.*\./, '')), ['commit', 'commit', 'commit']);
  assert.deepEqual(await state(ours), u.commits.map((c) => `${c}.commitpartial`).sort());
  assert.match(await ok(ots(`--repo=${ours}`, 'log', 'origin:os')), /v1/);
  await ok(ots(`--repo=${ours}`, 'pull', 'origin', 'os'));
  const left = await state(ours);
  assert.ok(!left.includes(`${u.commits[2]}.commitpartial`), 'the commit pulled in full is complete');
  assert.equal(left.length, 2, 'its parents stay partial');
  assert.equal((await ots(`--repo=${ours}`, 'fsck')).code, 0);
});

test('--subpath: the objects ostree fetches for the same paths; the commit stays partial', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const full = await client('ostree-ts', u.dir, 'full', u.url);
  await ok(ots(`--repo=${full}`, 'pull', 'origin', 'os'));
  const whole = (await objects(full)).length;
  for (const [name, args] of [['one', ['--subpath=/usr/share/doc']], ['two', ['--subpath=/usr/bin', '--subpath=/other/x']]] as const) {
    const r = await both(u, `subpath-${name}`, [...args, 'origin', 'os']);
    await sameResult(r, args.join(' '));
    assert.deepEqual(await state(r['ostree-ts']), [`${u.commits[2]}.commitpartial`]);
    const part = (await objects(r['ostree-ts'])).length;
    assert.ok(part > 3 && part < whole, `only part of the tree (${part} of ${whole} objects)`);
  }
  const bad = await ots(`--repo=${path.join(u.dir, 'ostree-ts-subpath-one')}`, 'pull', '--subpath=usr', 'origin', 'os');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--subpath=usr: give an absolute path/);
});

test('--mirror: refs/heads for every ref and the summary copied, as ostree does; ostree pulls from the mirror', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const r = await both(u, 'mirror', ['--mirror', 'origin'], 'archive');
  await sameResult(r, '--mirror');
  const ours = r['ostree-ts'];
  assert.deepEqual(await refFiles(ours), ['refs/heads/extra', 'refs/heads/os']);
  assert.ok((await readFile(path.join(ours, 'summary'))).equals(await readFile(path.join(u.repo, 'summary'))), 'the summary is the remote\'s');
  assert.ok((await readFile(path.join(r.ostree, 'summary'))).equals(await readFile(path.join(ours, 'summary'))));
  // The mirror serves: the real ostree pulls both refs from it.
  const { url } = await serveRepo(t, ours, u.dir);
  const downstream = await client('ostree', u.dir, 'from-mirror', url);
  await ok(ostree(`--repo=${downstream}`, 'pull', 'origin', 'os', 'extra'));
  assert.equal(await ok(ostree(`--repo=${downstream}`, 'rev-parse', 'origin:os')), u.commits[2]);
  assert.equal(await ok(ostree(`--repo=${downstream}`, 'rev-parse', 'origin:extra')), u.extra);
  assert.equal((await ostree('fsck', `--repo=${downstream}`)).code, 0);
  // Naming refs mirrors only those, and the summary is not copied.
  const named = await both(u, 'mirror-named', ['--mirror', 'origin', 'extra'], 'archive');
  await sameResult(named, '--mirror extra');
  assert.deepEqual(await refFiles(named['ostree-ts']), ['refs/heads/extra']);
  await assert.rejects(stat(path.join(named['ostree-ts'], 'summary')));
});

test('--timestamp-check refuses an older commit in both tools, the ref unchanged; without it the pull goes through', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const r = await both(u, 'ts', ['origin', 'os']);
  // The server goes back to v1 (older timestamp).
  await ok(ostree(`--repo=${u.repo}`, 'reset', 'os', u.commits[0]));
  await ok(ostree(`--repo=${u.repo}`, 'summary', '-u'));
  for (const t2 of ['ostree', 'ostree-ts'] as const) {
    const before = await objects(r[t2]);
    const res = await tool(t2, `--repo=${r[t2]}`, 'pull', '--timestamp-check', 'origin', 'os');
    assert.equal(res.code, 1, `${t2} refuses`);
    assert.match(res.stderr, /chronologically older/);
    assert.equal(await ok(tool(t2, `--repo=${r[t2]}`, 'rev-parse', 'origin:os')), u.commits[2], `${t2}: ref unchanged`);
    if (t2 === 'ostree-ts') {
      assert.deepEqual(await objects(r[t2]), before, 'nothing stored');
      assert.deepEqual(await state(r[t2]), []);
      assert.match(res.stderr, new RegExp(`Refusing commit ${u.commits[0]} for origin:os.*2020-06-01.*${u.commits[2]}.*2022-06-01`));
    }
  }
  // The same commit again is not older; a newer one passes.
  await ok(ots(`--repo=${r['ostree-ts']}`, 'pull', '-T', 'origin', 'extra'));
  await ok(ots(`--repo=${r['ostree-ts']}`, 'pull', 'origin', 'os'));
  assert.equal(await ok(ots(`--repo=${r['ostree-ts']}`, 'rev-parse', 'origin:os')), u.commits[0], 'without the check the ref moves back');
  const both2 = await ots(`--repo=${r['ostree-ts']}`, 'pull', '-T', '--depth=1', 'origin', 'os');
  assert.equal(both2.code, 1);
  assert.match(both2.stderr, /cannot be combined with --depth/);
});

test('--dry-run changes nothing and counts what a real pull then fetches, bytes included when the commit lists sizes', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t, { sizes: true });
  const repo = await client('ostree-ts', u.dir, 'dry', u.url);
  // Something is here already: another ref, sharing objects with os.
  await ok(ots(`--repo=${repo}`, 'pull', 'origin', 'extra'));
  const before = await snapshotTree(repo);
  const dry = JSON.parse(await ok(ots(`--repo=${repo}`, 'pull', '--dry-run', '--json', '--depth=1', 'origin', 'os'))) as {
    dryRun: boolean; needed: { objects: number; metadata: number; content: number; bytes: number | null }; refs: Array<{ changed: boolean }>; commits: unknown[];
  };
  assert.deepEqual(await snapshotTree(repo), before, 'the repository is exactly as it was');
  assert.equal(dry.dryRun, true);
  assert.equal(dry.commits.length, 2);
  const text = await ok(ots(`--repo=${repo}`, 'pull', '--dry-run', '--depth=1', 'origin', 'os'));
  assert.match(text, new RegExp(`Would fetch ${dry.needed.objects} objects \\(${dry.needed.metadata} metadata, ${dry.needed.content} content\\)`));
  assert.deepEqual(await snapshotTree(repo), before);
  // The real pull fetches exactly what the dry run said, and those objects' served sizes add up to its bytes.
  const have = new Set(await objects(repo));
  const real = JSON.parse(await ok(ots(`--repo=${repo}`, 'pull', '--json', '--depth=1', 'origin', 'os'))) as { fetched: number };
  const added = (await objects(repo)).filter((o) => !have.has(o) && !o.endsWith('.commitmeta'));
  assert.equal(real.fetched, dry.needed.objects, 'objects fetched = objects the dry run counted');
  assert.equal(added.length, dry.needed.objects, 'objects stored = objects the dry run counted');
  let served = 0;
  for (const o of added) {
    const name = o.replace(/\.file$/, '.filez');
    served += (await stat(path.join(u.repo, 'objects', name.slice(0, 2), name.slice(2)))).size;
  }
  assert.equal(dry.needed.bytes, served, 'bytes: the served size of every object counted');
});

test('static delta options: --require-static-deltas fails naming the commit when the remote has none; both options at once are refused', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  const repo = await client('ostree-ts', u.dir, 'deltas', u.url);
  const r = await ots(`--repo=${repo}`, 'pull', '--require-static-deltas', 'origin', 'os');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`no static delta to ${u.commits[2]} \\(os\\)`));
  assert.deepEqual(await refFiles(repo), []);
  const theirs = await client('ostree', u.dir, 'deltas', u.url);
  assert.equal((await ostree(`--repo=${theirs}`, 'pull', '--require-static-deltas', 'origin', 'os')).code, 1, 'ostree refuses too');
  const both2 = await ots(`--repo=${repo}`, 'pull', '--require-static-deltas', '--disable-static-deltas', 'origin', 'os');
  assert.equal(both2.code, 1);
  assert.match(both2.stderr, /contradict/);
  await ok(ots(`--repo=${repo}`, 'pull', '--disable-static-deltas', 'origin', 'os'));
  assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'origin:os')), u.commits[2]);
});

test('ref bindings: a commit bound to another ref is refused by both tools, as ostree does, unless --disable-verify-bindings', async (t) => {
  if (!(await requireOstree(t))) return;
  const u = await upstream(t);
  // 'alias' names a commit made on 'os' (bound to 'os' only): a server passing one branch off as another.
  await ok(ostree(`--repo=${u.repo}`, 'refs', `--create=alias`, u.commits[0]));
  await ok(ostree(`--repo=${u.repo}`, 'summary', '-u'));
  for (const t2 of ['ostree', 'ostree-ts'] as const) {
    const repo = await client(t2, u.dir, 'bindings', u.url);
    const r = await tool(t2, `--repo=${repo}`, 'pull', 'origin', 'alias');
    assert.equal(r.code, 1, `${t2} refuses`);
    assert.match(r.stderr, /no requested ref ‘alias’ in (its )?ref binding metadata \(‘os’\)/);
    assert.deepEqual(await refFiles(repo), [], `${t2}: no ref`);
    await ok(tool(t2, `--repo=${repo}`, 'pull', '--disable-verify-bindings', 'origin', 'alias'));
    assert.equal(await ok(tool(t2, `--repo=${repo}`, 'rev-parse', 'origin:alias')), u.commits[0]);
  }
  // The refusal has its own code, with the facts in data.
  const lib = await client('ostree-ts', u.dir, 'bindings-lib', u.url);
  await assert.rejects(pull(await Repo.open(lib), 'origin', ['alias']), (e: OstreeTsError) => {
    assert.equal(e.code, 'E_REF_BINDING');
    assert.deepEqual(e.data, { checksum: u.commits[0], ref: 'alias', bindings: ['os'], collectionId: null });
    return true;
  });
  assert.deepEqual(await refFiles(lib), [], 'no ref');
  // A remote with a collection ID takes only commits bound to that collection: these have none.
  await ok(ots(`--repo=${lib}`, 'config', 'set', 'remote "origin".collection-id', 'org.example.Os'));
  const r = await ots(`--repo=${lib}`, 'pull', 'origin', 'os');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`Commit ${u.commits[2]} \\(ref os of remote 'origin'\\) has no collection binding metadata, but the remote has a collection ID\\.`));
  assert.deepEqual(await refFiles(lib), [], 'no ref');
});
