/**
 * Issue 2, acceptance 4: corrupt objects are reported by fsck with their
 * checksum and exit status 1; unsafe dirtree names are rejected; device
 * nodes, sockets and FIFOs in a tree fail the commit naming the path, and
 * nothing is written to refs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { readdir, readFile, rename, truncate, writeFile, mkdir, chmod } from 'node:fs/promises';
import { isRoot, MODES, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeBasicTree, makeRichTree } from '../helpers/trees.js';
import { encodeCommit, encodeDirTree, encodeDirMeta, sha256Hex, S_IFDIR } from '../../src/format/index.js';

async function objectFiles(repo: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for (const fan of await readdir(path.join(repo, 'objects'))) {
    for (const n of await readdir(path.join(repo, 'objects', fan))) if (n.endsWith(suffix)) out.push(path.join(repo, 'objects', fan, n));
  }
  return out.sort();
}

function checksumOf(objectPath: string): string {
  return path.basename(path.dirname(objectPath)) + path.basename(objectPath).split('.')[0];
}

async function freshRepo(dir: string, mode: string, name: string): Promise<string> {
  const repo = path.join(dir, name);
  const tree = await makeRichTree(path.join(dir, `${name}-tree`));
  await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`));
  return repo;
}

async function flipByte(file: string, at: (size: number) => number): Promise<void> {
  const b = await readFile(file);
  b[at(b.length)] ^= 0x55;
  await writeFile(file, b);
}

for (const mode of MODES) {
  test(`${mode}: fsck names flipped, truncated and misnamed objects and exits 1`, async (t) => {
    const dir = await tempDir(t);
    const contentSuffix = mode === 'archive' ? '.filez' : '.file';
    const damages: Array<[string, (repo: string) => Promise<string>]> = [
      ['flipped content byte', async (repo) => {
        const f = (await objectFiles(repo, contentSuffix)).find((p) => !p.includes('large')) as string;
        // A regular file's last byte is content in every mode.
        const { lstat } = await import('node:fs/promises');
        const candidates = [];
        for (const p of await objectFiles(repo, contentSuffix)) if ((await lstat(p)).isFile() && (await lstat(p)).size > 4) candidates.push(p);
        const target = candidates[0] ?? f;
        await flipByte(target, (n) => n - 1);
        return checksumOf(target);
      }],
      ['flipped dirtree byte', async (repo) => {
        const f = (await objectFiles(repo, '.dirtree')).find(async (p) => (await readFile(p)).length > 40) as string;
        const files = await objectFiles(repo, '.dirtree');
        let target = f;
        for (const p of files) if ((await readFile(p)).length > 40) target = p;
        await flipByte(target, () => 0);
        return checksumOf(target);
      }],
      ['truncated content object', async (repo) => {
        const { lstat } = await import('node:fs/promises');
        for (const p of await objectFiles(repo, contentSuffix)) {
          const st = await lstat(p);
          if (st.isFile() && st.size > 1000) {
            await truncate(p, Math.floor(st.size / 2));
            return checksumOf(p);
          }
        }
        throw new Error('no large object');
      }],
      ['object under the wrong name', async (repo) => {
        const meta = (await objectFiles(repo, '.dirmeta'))[0];
        const wrong = path.join(path.dirname(meta), `${'0'.repeat(62)}.dirmeta`);
        await rename(meta, wrong);
        return checksumOf(wrong);
      }],
    ];
    for (const [i, [what, damage]] of damages.entries()) {
      const repo = await freshRepo(dir, mode, `r${i}`);
      assert.equal((await ots('fsck', `--repo=${repo}`)).code, 0, 'clean before the damage');
      const checksum = await damage(repo);
      const r = await ots('fsck', `--repo=${repo}`);
      assert.equal(r.code, 1, `${what}: exit status`);
      assert.ok(r.stderr.includes(checksum), `${what}: the report names ${checksum}:\n${r.stderr}`);
      const json = JSON.parse((await ots('fsck', '--json', `--repo=${repo}`)).stdout);
      assert.ok(json.problems.some((p: { checksum: string }) => p.checksum === checksum), `${what}: JSON report`);
      // --delete removes the corrupt object and marks the commit partial; a second fsck is clean of corruption.
      const del = await ots('fsck', '--delete', `--repo=${repo}`);
      assert.equal(del.code, 1);
      const after = JSON.parse((await ots('fsck', '--json', `--repo=${repo}`)).stdout);
      assert.ok(!after.problems.some((p: { kind: string }) => p.kind === 'corrupt'), `${what}: nothing corrupt left after --delete`);
    }
  });
}

test('a dirtree naming "..", ".", "a/b" or "" is rejected by fsck and by checkout', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const good = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'good', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  const fileCsum = (await ok(ots(`--repo=${repo}`, 'ls', '-C', 'good', '/hello.txt'))).split(/\s+/)[4];
  const meta = encodeDirMeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] });
  const metaCsum = sha256Hex(meta);
  for (const name of ['..', '.', 'a/b', '']) {
    const tree = encodeDirTree({ files: [{ name, checksum: fileCsum }], dirs: [] });
    const treeCsum = sha256Hex(tree);
    const commit = encodeCommit({ metadata: [], parent: null, related: [], subject: 'evil', body: '', timestamp: 1n, rootTree: treeCsum, rootMeta: metaCsum });
    const commitCsum = sha256Hex(commit);
    for (const [csum, type, bytes] of [[treeCsum, 'dirtree', tree], [commitCsum, 'commit', commit]] as const) {
      await mkdir(path.join(repo, 'objects', csum.slice(0, 2)), { recursive: true });
      await writeFile(path.join(repo, 'objects', csum.slice(0, 2), `${csum.slice(2)}.${type}`), bytes);
    }
    const r = await ots('fsck', `--repo=${repo}`);
    assert.equal(r.code, 1, JSON.stringify(name));
    assert.ok(r.stderr.includes(treeCsum), `fsck names the dirtree for ${JSON.stringify(name)}`);
    const co = await ots(`--repo=${repo}`, 'checkout', '-U', commitCsum, path.join(dir, `co-${name.replace(/\W/g, '_')}`));
    assert.equal(co.code, 1);
    assert.match(co.stderr, new RegExp(treeCsum));
    await ok(ots('fsck', '--delete', `--repo=${repo}`)).catch(() => undefined);
    await ots(`--repo=${repo}`, 'prune', '--refs-only');
  }
  assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'good')), good);
});

test('device nodes, sockets and FIFOs fail the commit naming the path; refs and tmp stay clean', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare-user'));
  const base = await makeBasicTree(path.join(dir, 'base'));
  const before = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${base}`));
  const cases: Array<[string, (p: string) => Promise<void>]> = [
    ['fifo', async (p) => { execFileSync('mkfifo', [p]); }],
    ['socket', async (p) => {
      const srv = net.createServer();
      await new Promise<void>((r) => srv.listen(p, r));
      t.after(() => srv.close());
    }],
  ];
  if (isRoot) cases.push(['chardev', async (p) => { execFileSync('mknod', [p, 'c', '1', '3']); }]);
  for (const [kind, make] of cases) {
    const tree = await makeBasicTree(path.join(dir, `t-${kind}`));
    await mkdir(path.join(tree, 'sub', 'dev'), { recursive: true });
    await make(path.join(tree, 'sub', 'dev', kind));
    const r = await ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`);
    assert.equal(r.code, 1, kind);
    assert.ok(r.stderr.includes(`/sub/dev/${kind}`), `${kind}: the error names the path:\n${r.stderr}`);
    assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'main')), before, `${kind}: the ref did not move`);
    const tmp = (await readdir(path.join(repo, 'tmp'))).filter((n) => n.startsWith('staging-'));
    assert.deepEqual(tmp, [], `${kind}: no staging directory left behind`);
  }
  assert.equal((await ots('fsck', `--repo=${repo}`)).code, 0);
});

test('two processes committing into one repository at once both succeed', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const a = await makeRichTree(path.join(dir, 'a'));
  const b = await makeRichTree(path.join(dir, 'b'));
  await writeFile(path.join(b, 'only-in-b'), 'b\n');
  await chmod(b, 0o750);
  const runs = await Promise.all([
    ots(`--repo=${repo}`, 'commit', '-b', 'a', `--tree=dir=${a}`),
    ots(`--repo=${repo}`, 'commit', '-b', 'b', `--tree=dir=${b}`),
    ots(`--repo=${repo}`, 'commit', '-b', 'a2', `--tree=dir=${a}`),
    ots(`--repo=${repo}`, 'commit', '-b', 'b2', `--tree=dir=${b}`),
  ]);
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  // refs lists in ostree's (hash table) order: compare the set.
  assert.deepEqual((await ok(ots(`--repo=${repo}`, 'refs'))).split('\n').sort(), ['a', 'a2', 'b', 'b2']);
  assert.equal((await ots('fsck', `--repo=${repo}`)).code, 0);
  if (await requireOstree(t)) assert.equal((await ostree('fsck', `--repo=${repo}`)).code, 0);
});

test('prune removes exactly what ostree prune removes', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const results: Record<string, string[]> = {};
  for (const tool of ['ots', 'ostree'] as const) {
    const run = tool === 'ots' ? ots : ostree;
    const repo = path.join(dir, tool);
    const tree = await makeRichTree(path.join(dir, `tree-${tool}`));
    await ok(run('init', `--repo=${repo}`, '--mode=archive'));
    await ok(run(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1600000000'));
    await writeFile(path.join(tree, 'hello.txt'), 'v2\n');
    await ok(run(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1700000000'));
    await writeFile(path.join(tree, 'hello.txt'), 'v3\n');
    await ok(run(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, '--timestamp=@1800000000'));
    const steps = [['prune', '--no-prune', '--refs-only', '--depth=0'], ['prune', '--refs-only', '--depth=1'], ['prune', '--refs-only', '--depth=0']];
    results[tool] = [];
    for (const s of steps) {
      const before = (await objectFiles(repo, '')).length;
      await ok(run(`--repo=${repo}`, ...s));
      results[tool].push(`${s.join(' ')}: ${before} -> ${(await objectFiles(repo, '')).length}`);
    }
    assert.equal((await ostree('fsck', `--repo=${repo}`)).code, 0);
  }
  assert.deepEqual(results.ots, results.ostree);
});

test('a zero-length commit, dirtree or delta superblock (a torn write) is a coded error naming the object, in every verb', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const first = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=dir=${tree}`, '--timestamp=@1600000000'));
  await writeFile(path.join(tree, 'new-file'), 'more\n');
  const second = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=dir=${tree}`, '--timestamp=@1600000001'));
  await ok(ots(`--repo=${repo}`, 'static-delta', 'generate', `--from=${first}`, `--to=${second}`));
  const deltaDir = path.join(repo, 'deltas');
  const superblocks: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (e.name === 'superblock') superblocks.push(path.join(d, e.name));
    }
  };
  await walk(deltaDir);
  assert.equal(superblocks.length, 1);
  const checkout = (n: string): string[] => ['checkout', 'x', path.join(dir, `co-${n}`)];
  // Verbs that read the tree; log and show read only the commit.
  const verbs: string[][] = [['ls', 'x'], ['ls', '-R', 'x'], ['export', 'x', '-o', path.join(dir, 'out.tar')], ['prune', '--refs-only'], ['static-delta', 'generate', '--empty', '--to=x']];
  const refused = async (what: string, expect: RegExp, extra: string[][]): Promise<void> => {
    let i = 0;
    for (const args of [...verbs, ...extra]) {
      const r = await ots(`--repo=${repo}`, ...(args[0] === 'checkout' ? checkout(`${what}-${i++}`) : args));
      assert.equal(r.code, 1, `${args.join(' ')} with ${what}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /RangeError|TypeError|This is a bug|\n\s+at /, `${args.join(' ')} with ${what}`);
      assert.match(r.stderr, expect, `${args.join(' ')} with ${what} names the object`);
    }
  };
  // The root dirtree of the second commit, emptied.
  const treeSum = (await ok(ots(`--repo=${repo}`, 'show', '--json', second))).match(/"rootTree": "([0-9a-f]{64})"/)?.[1] as string;
  const treeFile = path.join(repo, 'objects', treeSum.slice(0, 2), `${treeSum.slice(2)}.dirtree`);
  const savedTree = await readFile(treeFile);
  await writeFile(treeFile, '');
  await refused('an empty dirtree', new RegExp(`${treeSum}\\.dirtree is corrupt`), [['checkout']]);
  await writeFile(treeFile, savedTree);
  // The commit itself, emptied.
  const commitFile = path.join(repo, 'objects', second.slice(0, 2), `${second.slice(2)}.commit`);
  const savedCommit = await readFile(commitFile);
  await writeFile(commitFile, '');
  await refused('an empty commit', new RegExp(`${second}\\.commit is corrupt`), [['checkout'], ['log', 'x'], ['show', 'x']]);
  await writeFile(commitFile, savedCommit);
  // An empty superblock: show and apply-offline say which file.
  await writeFile(superblocks[0], '');
  for (const args of [['static-delta', 'show', `${first}-${second}`], ['static-delta', 'apply-offline', superblocks[0]]]) {
    const r = await ots(`--repo=${repo}`, ...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /RangeError|TypeError|This is a bug|\n\s+at /, args.join(' '));
    assert.match(r.stderr, /superblock/, args.join(' '));
  }
});
