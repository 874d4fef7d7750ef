/**
 * A commit killed at any point leaves the repository consistent: the ref is
 * either unmoved or at the complete new commit, both fsck tools are clean,
 * and the next commit succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { CLI, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { makeRichTree } from '../helpers/trees.js';

async function bulk(root: string, n: number, tag: string): Promise<void> {
  for (let d = 0; d < n / 50; d++) {
    const dir = path.join(root, 'bulk', `d${d}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: 50 }, (_, i) => writeFile(path.join(dir, `f${i}`), `${tag} ${d} ${i}\n`.repeat(1 + (i % 7)))));
  }
}

function killAfter(args: string[], ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

for (const mode of ['archive', 'bare-user'] as const) {
  test(`${mode}: commits killed at random points never leave the repository inconsistent`, async (t) => {
    const hasOstree = await requireOstree(t);
    const dir = await tempDir(t);
    const repo = path.join(dir, 'repo');
    await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`));
    const base = await makeRichTree(path.join(dir, 'base'));
    const first = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${base}`));
    let current = first;
    for (let round = 0; round < 6; round++) {
      const tree = await makeRichTree(path.join(dir, `t${round}`));
      await bulk(tree, 1500, `round ${round}`);
      const delay = 30 + Math.floor(Math.random() * 600);
      const code = await killAfter([`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`], delay);
      const now = await ok(ots(`--repo=${repo}`, 'rev-parse', 'main'));
      if (code === 0) {
        assert.notEqual(now, current, `round ${round}: a completed commit moved the ref`);
        current = now;
      } else {
        assert.equal(now, current, `round ${round} (killed after ${delay} ms): the ref did not move`);
      }
      const f = await ots('fsck', `--repo=${repo}`);
      assert.equal(f.code, 0, `round ${round}: ostree-ts fsck after a kill at ${delay} ms:\n${f.stderr}`);
      if (hasOstree) {
        const g = await ostree('fsck', `--repo=${repo}`);
        assert.equal(g.code, 0, `round ${round}: ostree fsck:\n${g.stderr}`);
      }
    }
    const last = await makeRichTree(path.join(dir, 'last'));
    await bulk(last, 500, 'last');
    const done = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${last}`));
    assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'main')), done);
    assert.equal((await ots('fsck', `--repo=${repo}`)).code, 0);
  });
}
