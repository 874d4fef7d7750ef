/**
 * Issue 14, defect 4: fetch deadlines. A server on loopback that answers
 * every content object one byte a second: before the fix, `pull` and
 * `atomic upgrade` waited on it for ever (holding their locks). Now the
 * low-speed limit (bytes per second over a window), the per-request timeout
 * and the whole-pull timeout each end it, set by `pull` flags or by the
 * remote's keys in the repository config, with an error naming the URL and
 * what stalled; `atomic upgrade` reports it and gives the sysroot lock back.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';
import { ATOMIC, makeHost, makeOsTree, publish } from '../helpers/host.js';
import { runBounded } from '../helpers/small-fs.js';
import { makeRichTree } from '../helpers/trees.js';

/** Long enough for any of these runs on a loaded machine; only a hang reaches it. */
const GUARD_MS = 90_000;

/** Serve `root` on 127.0.0.1; `.filez` objects trickle out a byte a second, everything else is sent at once. */
async function trickleServer(t: TestContext, root: string): Promise<string> {
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    stat(file).then((st) => {
      if (!st.isFile() || !file.startsWith(root)) throw new Error('not a file');
      res.writeHead(200, { 'Content-Length': st.size });
      if (!file.endsWith('.filez')) {
        createReadStream(file).pipe(res);
        return;
      }
      void readFile(file).then((data) => {
        let at = 0;
        const timer = setInterval(() => {
          if (at >= data.length || res.destroyed) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(data.subarray(at, at + 1));
          at++;
        }, 1000);
        timers.add(timer);
      });
    }).catch(() => {
      res.writeHead(404);
      res.end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const tm of timers) clearInterval(tm);
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('pull gives up on a server trickling a byte a second: low-speed limit, request timeout and pull timeout, by flags and by config', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await makeRichTree(tree);
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'));
  const url = await trickleServer(t, upstream);

  const client = async (name: string, settings: string[] = []): Promise<string> => {
    const repo = path.join(dir, name);
    await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
    await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', ...settings.map((s) => `--set=${s}`), 'slow', url));
    return repo;
  };
  const pullSlow = (repo: string, ...flags: string[]) => runBounded(process.execPath, [CLI, `--repo=${repo}`, 'pull', ...flags, 'slow', 'os'], GUARD_MS);
  const checkStopped = async (repo: string, r: Awaited<ReturnType<typeof pullSlow>>, label: string, pattern: RegExp): Promise<void> => {
    assert.equal(r.hung, false, `${label}: the pull ended by itself (before the fix it waited for ever)`);
    assert.equal(r.code, 1, `${label}: ${r.stderr}`);
    assert.match(r.stderr, pattern, label);
    assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /, `${label}: a clean error`);
    assert.notEqual((await ots(`--repo=${repo}`, 'rev-parse', 'slow:os')).code, 0, `${label}: no ref moved`);
    const f = await ostree('fsck', `--repo=${repo}`);
    assert.equal(f.code, 0, `${label}: ostree fsck: ${f.stdout}${f.stderr}`);
  };
  const objectUrl = `${url.replace(/\//g, '\\/')}objects\\/[0-9a-f]{2}\\/[0-9a-f]{62}\\.filez`;

  // The low-speed limit, by flags.
  {
    const repo = await client('by-flags');
    const r = await pullSlow(repo, '--low-speed-limit-bytes=100', '--low-speed-time-seconds=1');
    await checkStopped(repo, r, 'low-speed flags', new RegExp(`error: ${objectUrl}: failed 5 times, the last because the transfer stalled: \\d+ bytes in \\d+(\\.\\d)? s, under the 100 bytes/s required over 1 s \\(low-speed-limit-bytes, low-speed-time-seconds\\)`));
  }
  // The same, from the remote's keys in the config.
  {
    const repo = await client('by-config', ['low-speed-limit-bytes=100', 'low-speed-time-seconds=1']);
    const config = await readFile(path.join(repo, 'config'), 'utf8');
    assert.match(config, /\[remote "slow"\][^[]*low-speed-time-seconds=1/);
    const r = await pullSlow(repo);
    await checkStopped(repo, r, 'low-speed config', new RegExp(`${objectUrl}: failed 5 times, the last because the transfer stalled: .*under the 100 bytes/s required over 1 s`));
  }
  // One request at most 1 s (the low-speed limit off); flags win over the config.
  {
    const repo = await client('request', ['request-timeout-seconds=3600']);
    const r = await pullSlow(repo, '--low-speed-limit-bytes=0', '--request-timeout-seconds=1');
    await checkStopped(repo, r, 'request timeout', new RegExp(`${objectUrl}: failed 5 times, the last because the request took longer than 1 s \\(request-timeout-seconds\\)`));
  }
  // The whole pull at most 2 s: E_TIMEOUT at once, no retries.
  {
    const repo = await client('whole', ['low-speed-limit-bytes=0', 'pull-timeout-seconds=2']);
    const r = await runBounded(process.execPath, [CLI, `--repo=${repo}`, 'pull', '--json', 'slow', 'os'], GUARD_MS);
    await checkStopped(repo, r, 'pull timeout', new RegExp(`error: Pulling from remote 'slow' ran out of time: it may take 2 s \\(pull-timeout-seconds\\), and ${objectUrl} was still being fetched\\. What was already stored is kept`));
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'E_TIMEOUT');
  }
  // A bad key is named.
  {
    const repo = await client('bad', ['low-speed-time-seconds=soon']);
    const r = await pullSlow(repo);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /low-speed-time-seconds=soon in the \[remote "slow"\] group of .*config is not a whole number of seconds/);
    const u = await pullSlow(repo, '--request-timeout-seconds=-1');
    assert.match(u.stderr, /--request-timeout-seconds takes a whole number/);
  }
});

test('atomic upgrade from a stalled server fails with the stall and gives the sysroot lock back', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2' }), { timestamp: 1_700_086_400, version: '2' });
  const slow = await trickleServer(t, host.upstream);
  // The system repository's remote now points at the slow server, with a short low-speed window.
  const configFile = path.join(host.repo, 'config');
  const config = await readFile(configFile, 'utf8');
  assert.ok(config.includes(`url=${host.url}`));
  await writeFile(configFile, config.replace(`url=${host.url}`, `url=${slow}\nlow-speed-limit-bytes=100\nlow-speed-time-seconds=1`));

  const r = await runBounded(process.execPath, [ATOMIC, `--sysroot=${host.sysroot}`, 'upgrade'], GUARD_MS);
  assert.equal(r.hung, false, 'atomic upgrade ended by itself (before the fix it waited for ever, holding the lock)');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: http:\/\/127\.0\.0\.1:\d+\/objects\/\S+\.filez: failed 5 times, the last because the transfer stalled: .*under the 100 bytes\/s required over 1 s \(low-speed-limit-bytes, low-speed-time-seconds\)/, r.stderr);
  assert.doesNotMatch(r.stderr, /This is a bug|\n\s+at /);

  // In this process, through the library: the lock is given back, so another process gets it at once.
  const { upgrade, nodeHostEnv } = await import('../../src/index.js');
  await assert.rejects(upgrade({ sysroot: host.sysroot, env: nodeHostEnv() }), (e: Error & { code?: string }) => e.code === 'E_IO' && /transfer stalled/.test(e.message));
  const next = await runBounded(process.execPath, [ATOMIC, `--sysroot=${host.sysroot}`, 'cleanup'], GUARD_MS);
  assert.equal(next.code, 0, `a second atomic verb right after is not locked out: ${next.stderr}`);
  const status = await runBounded(process.execPath, [ATOMIC, `--sysroot=${host.sysroot}`, 'status', '--json'], GUARD_MS);
  const doc = JSON.parse(status.stdout) as { deployments: Array<{ checksum: string }> };
  assert.deepEqual(doc.deployments.map((d) => d.checksum), [host.v1], 'still v1, alone');
});
