/**
 * Pull progress: the library reports events; the CLI renders them as a bar
 * on a terminal, a plain line every few seconds otherwise, or versioned JSON
 * lines (--json-progress). Rate and ETA come from a clock the tests drive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import {
  PullTracker, describePull, jsonPullRenderer, plainPullRenderer, ttyPullRenderer,
} from '../../src/cli/progress.js';
import type { PullEvent } from '../../src/transport/index.js';
import { CLI, ok, ots, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';

function objects(o: Partial<Extract<PullEvent, { type: 'objects' }>>): PullEvent {
  return {
    type: 'objects', fetched: 0, needed: 0, metadataNeeded: 0, metadataFetched: 0, scanning: 0, neededBytes: 0, neededBytesKnown: false, bytes: 0, ...o,
  };
}

function collect(): { stream: PassThrough & { columns?: number }; text: () => string } {
  const stream = new PassThrough() as PassThrough & { columns?: number };
  const parts: Buffer[] = [];
  stream.on('data', (d: Buffer) => parts.push(d));
  return { stream, text: () => Buffer.concat(parts).toString('utf8') };
}

test('rate over the last seconds; ETA only once scanning is over, from bytes when sizes are known', () => {
  let now = 1000;
  const tr = new PullTracker(() => now);
  tr.update(objects({ fetched: 10, needed: 100, scanning: 3, bytes: 1_000_000 }));
  now += 1000;
  tr.update(objects({ fetched: 20, needed: 200, scanning: 1, bytes: 2_000_000 }));
  let s = tr.snapshot();
  assert.equal(s.rate, 1_000_000);
  assert.equal(s.eta, null, 'no ETA while directories are still being read');
  assert.equal(s.scanning, true);
  assert.equal(s.bytesTotal, 20_000_000, 'estimated from bytes per object');
  assert.equal(s.bytesTotalEstimated, true);
  now += 1000;
  tr.update(objects({ fetched: 50, needed: 200, scanning: 0, bytes: 4_000_000, neededBytes: 10_000_000, neededBytesKnown: true }));
  s = tr.snapshot();
  assert.equal(s.bytesTotal, 10_000_000);
  assert.equal(s.bytesTotalEstimated, false);
  assert.equal(s.rate, 1_500_000, '3 MB over the 2 s window');
  assert.equal(s.eta, 4, '6 MB left at 1.5 MB/s');
  assert.match(describePull(s), /^50\/200 objects, 3\.8 MiB of 9\.5 MiB, 1\.4 MiB\/s, 4s left$/);
  // Old samples leave the window.
  now += 10_000;
  tr.update(objects({ fetched: 60, needed: 200, scanning: 0, bytes: 5_000_000, neededBytes: 10_000_000, neededBytesKnown: true }));
  now += 1000;
  tr.update(objects({ fetched: 70, needed: 200, scanning: 0, bytes: 5_500_000, neededBytes: 10_000_000, neededBytesKnown: true }));
  assert.equal(tr.snapshot().rate, 500_000);
});

test('plain lines at most every interval; a bar on a terminal, cleared at the end', () => {
  let now = 0;
  const plain = collect();
  const p = plainPullRenderer(plain.stream, 3000, () => now);
  for (let i = 1; i <= 100; i++) {
    now += 100;
    p.onEvent(objects({ fetched: i, needed: 100, bytes: i * 1000 }));
  }
  p.finish();
  const lines = plain.text().split('\n').filter(Boolean);
  assert.equal(lines.length, 3, '10 s of events, a line every 3 s');
  assert.match(lines[0], /^pull: 30\/100 objects, 29\.3 KiB of ~97\.7 KiB, 9\.8 KiB\/s, 7s left$/);
  now = 0;
  const tty = collect();
  tty.stream.columns = 60;
  const b = ttyPullRenderer(tty.stream as unknown as NodeJS.WriteStream, () => now);
  for (let i = 1; i <= 10; i++) {
    now += 50;
    b.onEvent(objects({ fetched: i * 10, needed: 100, bytes: i * 10_000, scanning: i < 5 ? 1 : 0 }));
  }
  b.finish();
  const out = tty.text();
  const frames = out.split('\r\x1b[K').filter(Boolean);
  assert.equal(frames.length, 5, 'redrawn at most ten times a second');
  assert.ok(frames.every((f) => f.length <= 59), 'fits the terminal');
  assert.match(frames[0], /^Scanning {2}\[#+-+\] +\d+% /);
  assert.match(frames[3], /^Receiving \[#{16}-{4}\] {2}80% 80\/100 objects/);
  assert.match(frames[4], /^Receiving \[#{20}\] 100% 100\/100 objects/);
  assert.ok(out.endsWith('\r\x1b[K'), 'the line is cleared at the end');
});

test('JSON lines: versioned, objects throttled, the last state sent before done; errors as an event', () => {
  let now = 0;
  const out = collect();
  const j = jsonPullRenderer(out.stream, 250, () => now);
  j.onEvent({ type: 'start', remote: 'origin', dryRun: false, refs: [{ ref: 'os', localRef: 'origin:os', checksum: 'a'.repeat(64), previous: null }] });
  for (let i = 1; i <= 20; i++) {
    now += 100;
    j.onEvent(objects({ fetched: i, needed: 20, bytes: i }));
  }
  const result = { fetched: 20 } as unknown as Extract<PullEvent, { type: 'done' }>['result'];
  j.onEvent({ type: 'done', result });
  j.finish();
  const events = out.text().trim().split('\n').map((l) => JSON.parse(l) as { v: number; type: string; fetched?: number; result?: unknown });
  assert.ok(events.every((e) => e.v === 1));
  assert.equal(events[0].type, 'start');
  assert.equal(events.at(-1)?.type, 'done');
  assert.deepEqual(events.at(-1)?.result, { fetched: 20 });
  const obj = events.filter((e) => e.type === 'objects');
  assert.ok(obj.length >= 7 && obj.length <= 9, `about one per 250 ms (${obj.length})`);
  assert.equal(obj.at(-1)?.fetched, 20, 'the final counts are sent before done');
  const err = collect();
  const k = jsonPullRenderer(err.stream, 250, () => 0);
  k.finish(Object.assign(new Error('boom'), { code: 'E_IO' }));
  assert.deepEqual(JSON.parse(err.text()), { v: 1, type: 'error', code: 'E_IO', message: 'boom' });
});

test('--json-progress from a real pull: only JSON on stdout, start first, done last with the result; a terminal gets a bar', async (t) => {
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  for (let d = 0; d < 10; d++) {
    await mkdir(path.join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 30; f++) await writeFile(path.join(tree, `d${d}`, `f${f}`), `${d}/${f}\n`.repeat(f * 50 + 1));
  }
  const upstream = path.join(dir, 'upstream');
  await ok(ots('init', `--repo=${upstream}`, '--mode=archive'));
  const checksum = await ok(ots(`--repo=${upstream}`, 'commit', '-b', 'os', `--tree=dir=${tree}`));
  await ok(ots(`--repo=${upstream}`, 'summary', '-u'));
  const { url } = await serveRepo(t, upstream, dir);
  const local = path.join(dir, 'local');
  await ok(ots('init', `--repo=${local}`, '--mode=bare-user'));
  await ok(ots(`--repo=${local}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
  const out = await ok(ots(`--repo=${local}`, 'pull', '--json-progress', 'origin', 'os'));
  const events = out.split('\n').map((l) => JSON.parse(l) as {
    v: number; type: string; fetched?: number; needed?: number; refs?: Array<{ checksum: string }>; result?: { fetched: number; refs: Array<{ checksum: string }> };
  });
  assert.ok(events.every((e) => e.v === 1));
  assert.equal(events[0].type, 'start');
  assert.equal(events[0].refs?.[0].checksum, checksum);
  assert.equal(events[1].type, 'commit');
  const done = events.at(-1);
  assert.equal(done?.type, 'done');
  let stored = 0;
  for (const fan of await readdir(path.join(local, 'objects'))) stored += (await readdir(path.join(local, 'objects', fan))).length;
  assert.equal(done?.result?.fetched, stored, 'the result counts every object stored');
  assert.equal(done?.result?.refs[0].checksum, checksum);
  let last = 0;
  for (const e of events.filter((x) => x.type === 'objects')) {
    assert.ok((e.fetched ?? 0) >= last && (e.fetched ?? 0) <= (e.needed ?? 0), 'fetched only grows, never past needed');
    last = e.fetched ?? 0;
  }
  // On a terminal (script(1) gives the pull one), stderr shows a bar that is cleared at the end.
  const local2 = path.join(dir, 'local2');
  await ok(ots('init', `--repo=${local2}`, '--mode=bare-user'));
  await ok(ots(`--repo=${local2}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
  const typescript = path.join(dir, 'typescript');
  const tty = await run('script', ['-qec', `${process.execPath} ${CLI} --repo=${local2} pull origin os`, typescript]);
  assert.equal(tty.code, 0, tty.stdout);
  assert.match(tty.stdout, /\r\x1b\[K(Scanning|Receiving) +\[[#-]{20}\]/);
  assert.match(tty.stdout, /origin:os [0-9a-f]{64}/);
});
