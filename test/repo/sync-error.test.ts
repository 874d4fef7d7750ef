/**
 * A failed filesystem sync (syncfs through `sync --file-system`) is a coded
 * error naming the path and what sync said, never an internal error: found
 * by the torture suite, where an I/O error, a full disk or a kill at the
 * sync of `atomic kargs`, a commit or a pull ended in "unexpected failure …
 * This is a bug".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { syncFilesystem } from '../../src/io/index.js';
import { CLI, ok, ots, requireTool, run, tempDir } from '../helpers/env.js';
import { makeBasicTree } from '../helpers/trees.js';

test('syncFilesystem on a path that is not there: E_IO naming the path', async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, 'nothing-here');
  await assert.rejects(syncFilesystem(missing), (e: Error & { code?: string; data?: { path?: string } }) => {
    assert.equal(e.code, 'E_IO');
    assert.equal(e.data?.path, missing);
    assert.ok(e.message.includes(missing) && /No such file or directory/.test(e.message), e.message);
    return true;
  });
});

for (const fault of ['error=EIO', 'error=ENOSPC', 'signal=KILL']) {
  test(`a commit whose sync fails (${fault}) exits 1 naming the repository, and the ref does not move`, async (t) => {
    if (!(await requireTool(t, 'strace', 'strace'))) return;
    const dir = await tempDir(t);
    const repo = path.join(dir, 'repo');
    await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
    const tree = await makeBasicTree(path.join(dir, 'tree'));
    // The sync runs in a child process (sync --file-system): its first syncfs fails, or it is killed there.
    const seccomp = fault.startsWith('signal') ? [] : ['--seccomp-bpf'];
    const r = await run('strace', ['-f', ...seccomp, '-qq', '-o', '/dev/null', '-e', 'trace=syncfs', '-e', `inject=syncfs:${fault}:when=1`, '--',
      process.execPath, CLI, `--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`]);
    assert.equal(r.code, 1, `exit status 1, not an internal error:\n${r.stderr}`);
    assert.match(r.stderr, /Could not make the file system holding \S+ durable \(syncfs\)/);
    assert.ok(r.stderr.includes(repo), r.stderr);
    assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /);
    assert.notEqual((await ots(`--repo=${repo}`, 'rev-parse', 'main')).code, 0, 'no ref was made');
    await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`), 'the commit again, without the fault');
  });
}
