/**
 * Issue 5, acceptance 4: a pull killed at random points (20 times) always
 * resumes; the final pull completes, both fscks are clean, and no object that
 * was already stored is downloaded again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { CLI, ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';

async function storedObjects(repo: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const fan of await readdir(path.join(repo, 'objects')).catch(() => [] as string[])) {
    for (const name of await readdir(path.join(repo, 'objects', fan))) out.add(`${fan}/${name.replace(/\.file$/, '.filez')}`);
  }
  return out;
}

test('a pull killed at 20 random points resumes and never fetches a stored object again', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  // About 2,400 objects: enough that a pull takes a while and is cut in many places.
  for (let d = 0; d < 40; d++) {
    await mkdir(path.join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 55; f++) await writeFile(path.join(tree, `d${d}`, `f${f}`), `file ${d}/${f}\n${'x'.repeat((d * 97 + f * 31) % 3000)}\n`);
  }
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  const checksum = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'));
  const logFile = path.join(dir, 'access.log');
  const { port } = await serveRepo(t, upstream, dir, logFile);
  const local = path.join(dir, 'local');
  await ok(ots('init', `--repo=${local}`, '--mode=bare-user'));
  await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'origin', `http://127.0.0.1:${port}/`));
  const logLines = async (): Promise<string[]> => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  let kills = 0;
  let refetched: string[] = [];
  for (let round = 0; round < 60 && kills < 20; round++) {
    const before = await storedObjects(local);
    const seen = (await logLines()).length;
    const child = spawn(process.execPath, [CLI, `--repo=${local}`, 'pull', '--object-batch=50', 'origin', 'os'], { stdio: 'ignore' });
    // Start-up alone takes about 200 ms; cut anywhere from before the first request to deep in the objects.
    const delay = 150 + Math.floor(Math.random() * 350);
    const killed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); }, delay);
      child.on('exit', (_code, signal) => { clearTimeout(timer); resolve(signal === 'SIGKILL'); });
    });
    // What this run fetched must not include what was already stored when it started.
    const fetched = (await logLines()).slice(seen).map((l) => l.split(' ')[1]).filter((p) => p.startsWith('/objects/')).map((p) => p.slice('/objects/'.length));
    refetched = refetched.concat(fetched.filter((p) => before.has(p)));
    if (killed) {
      kills++;
      continue;
    }
    // The pull finished before its kill: check it, then start over in an empty repository.
    assert.equal(await ok(ots(`--repo=${local}`, 'rev-parse', 'origin:os')), checksum);
    assert.equal((await ots(`--repo=${local}`, 'fsck')).code, 0);
    await run('rm', ['-rf', local]);
    await ok(ots('init', `--repo=${local}`, '--mode=bare-user'));
    await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'origin', `http://127.0.0.1:${port}/`));
  }
  assert.deepEqual(refetched, [], 'no stored object was fetched again');
  // Whatever happened, one more pull completes the commit.
  await ok(ots(`--repo=${local}`, 'pull', 'origin', 'os'));
  assert.equal(await ok(ots(`--repo=${local}`, 'rev-parse', 'origin:os')), checksum);
  assert.equal((await ots(`--repo=${local}`, 'fsck')).code, 0);
  const f = await ostree('fsck', `--repo=${local}`);
  assert.equal(f.code, 0, f.stderr);
  t.diagnostic(`${kills} kills before the pull was let finish`);
  assert.equal(kills, 20, 'the pull was killed 20 times before it was let finish');
});
