/**
 * Issue 3, acceptance 2: a commit from a git tree checks out byte-identical
 * to `git archive` of the same revision, and its metadata names the git
 * commit. The tree is read with isomorphic-git; the git binary only builds
 * the fixture repository and the reference archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { ok, ots, requireTool, run, tempDir } from '../helpers/env.js';
import { snapshotTree } from '../helpers/snapshot.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Image Author', GIT_AUTHOR_EMAIL: 'author@example.org', GIT_COMMITTER_NAME: 'Image Author',
  GIT_COMMITTER_EMAIL: 'author@example.org', GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
};

function git(repo: string, ...args: string[]): Promise<string> {
  return ok(run('git', ['-C', repo, ...args], { env: GIT_ENV }), `git ${args.join(' ')}`);
}

async function makeGitRepo(dir: string): Promise<string> {
  const repo = path.join(dir, 'config');
  await mkdir(path.join(repo, 'etc', 'app', 'conf.d'), { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main', repo);
  await writeFile(path.join(repo, 'etc', 'app', 'app.conf'), 'listen = 8080\n');
  await writeFile(path.join(repo, 'etc', 'app', 'conf.d', 'empty'), '');
  await writeFile(path.join(repo, 'etc', 'motd'), 'Welcome\n');
  await mkdir(path.join(repo, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(repo, 'usr', 'bin', 'hello'), '#!/bin/sh\necho hello\n');
  await chmod(path.join(repo, 'usr', 'bin', 'hello'), 0o755);
  await symlink('hello', path.join(repo, 'usr', 'bin', 'hi'));
  await symlink('/etc/motd', path.join(repo, 'etc', 'issue'));
  await writeFile(path.join(repo, 'ünïcödé.txt'), 'unicode\n');
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  await writeFile(path.join(repo, 'usr', 'blob.bin'), big);
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'v1');
  await git(repo, 'tag', '-a', 'v1', '-m', 'release 1');
  await writeFile(path.join(repo, 'etc', 'motd'), 'Welcome to v2\n');
  await git(repo, 'commit', '-q', '-am', 'v2');
  // Pack the objects, so both loose and packed reads are exercised across revisions.
  await git(repo, 'gc', '-q');
  await writeFile(path.join(repo, 'etc', 'motd'), 'Welcome to v3\n');
  await git(repo, 'commit', '-q', '-am', 'v3');
  return repo;
}

async function gitArchive(repo: string, rev: string, dest: string, subdir?: string): Promise<string> {
  await mkdir(dest, { recursive: true });
  const treeish = subdir ? `${rev}:${subdir}` : rev;
  await ok(run('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', repo, treeish, dest]), 'git archive');
  return dest;
}

/** Content and type, and the executable bit (git archive applies a umask to the rest). */
async function comparable(root: string): Promise<Array<{ path: string; type: string; exec: boolean; target?: string; content?: string }>> {
  return (await snapshotTree(root, { owners: false, xattrs: false })).filter((e) => e.path !== '/').map((e) => ({
    path: e.path, type: e.type, exec: e.type === 'file' ? (parseInt(e.mode, 8) & 0o100) !== 0 : false, target: e.target, content: e.content,
  }));
}

test('a commit from a git tree checks out byte-identical to git archive, and names the git commit', async (t) => {
  if (!(await requireTool(t, 'git', 'git'))) return;
  const dir = await tempDir(t);
  const src = await makeGitRepo(dir);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare-user'));
  for (const [rev, branch] of [['main', 'os/main'], ['v1', 'os/v1'], ['HEAD~1', 'os/prev']] as const) {
    const checksum = await ok(ots(`--repo=${repo}`, 'commit', '-b', branch, `--tree=git=${src}:${rev}`, '--timestamp=@1700000000'));
    const out = path.join(dir, `co-${branch.replace('/', '-')}`);
    await ok(ots(`--repo=${repo}`, 'checkout', '-U', checksum, out));
    const ref = await gitArchive(src, rev, path.join(dir, `ga-${branch.replace('/', '-')}`));
    assert.deepEqual(await comparable(out), await comparable(ref), `checkout of ${rev} equals git archive`);
    // Modes are git's two, owners 0:0.
    const ls = (await ok(ots(`--repo=${repo}`, 'ls', '-R', '--json', checksum))).split('\n').map((l) => JSON.parse(l) as { path: string; mode: number; uid: number; gid: number });
    const modes = Object.fromEntries(ls.map((e) => [e.path, e.mode & 0o7777]));
    assert.equal(modes['/usr/bin/hello'], 0o755);
    assert.equal(modes['/etc/motd'], 0o644);
    assert.equal(modes['/etc'], 0o755);
    assert.ok(ls.every((e) => e.uid === 0 && e.gid === 0), 'all owned by 0:0');
    const gitCommit = await git(src, 'rev-parse', `${rev}^{commit}`);
    const recorded = await ok(ots(`--repo=${repo}`, 'show', '--print-metadata-key=ostree-ts.source.git-commit', checksum));
    assert.equal(recorded, `'${gitCommit}'`);
    const source = await ok(ots(`--repo=${repo}`, 'show', '--print-metadata-key=ostree-ts.source.git', checksum));
    assert.equal(source, `'${src}'`);
  }
  // A subdirectory of a revision, and an abbreviated commit id.
  const short = (await git(src, 'rev-parse', 'HEAD')).slice(0, 10);
  const sub = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os/etc', `--tree=git=${src}:${short}:etc`, '--timestamp=@1700000000'));
  const subOut = path.join(dir, 'co-sub');
  await ok(ots(`--repo=${repo}`, 'checkout', '-U', sub, subOut));
  assert.deepEqual(await comparable(subOut), await comparable(await gitArchive(src, 'HEAD', path.join(dir, 'ga-sub'), 'etc')));
  // The origin URL is recorded when the repository has one.
  await git(src, 'remote', 'add', 'origin', 'https://git.example.org/os/config.git');
  const withUrl = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os/url', `--tree=git=${src}:main`, '--timestamp=@1700000000'));
  assert.equal(await ok(ots(`--repo=${repo}`, 'show', '--print-metadata-key=ostree-ts.source.git', withUrl)), "'https://git.example.org/os/config.git'");
  // Errors name what is wrong.
  const badRev = await ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=git=${src}:no-such-branch`);
  assert.equal(badRev.code, 1);
  assert.match(badRev.stderr, /no revision "no-such-branch"/);
  const notGit = await ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=git=${dir}:main`);
  assert.equal(notGit.code, 1);
  assert.match(notGit.stderr, /is not a git repository/);
});

test('a git tree layered over a tarball: the configuration from git wins', async (t) => {
  if (!(await requireTool(t, 'git', 'git'))) return;
  const dir = await tempDir(t);
  const src = await makeGitRepo(dir);
  const base = path.join(dir, 'base');
  await mkdir(path.join(base, 'etc'), { recursive: true });
  await writeFile(path.join(base, 'etc', 'motd'), 'from the base\n');
  await writeFile(path.join(base, 'etc', 'hostname'), 'base\n');
  const tar = path.join(dir, 'base.tar.gz');
  await ok(run('tar', ['--numeric-owner', '-C', base, '-czf', tar, '.']));
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=tar=${tar}`, `--tree=git=${src}:main`));
  assert.equal(await ok(ots(`--repo=${repo}`, 'cat', 'os', '/etc/motd')), 'Welcome to v3');
  assert.equal(await ok(ots(`--repo=${repo}`, 'cat', 'os', '/etc/hostname')), 'base');
  assert.equal(await ok(ots(`--repo=${repo}`, 'cat', 'os', '/etc/app/app.conf')), 'listen = 8080');
});
