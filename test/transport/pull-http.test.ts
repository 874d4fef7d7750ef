/**
 * The HTTP client pulls use: bodies framed by Content-Length, chunked
 * encoding or the connection's end; keep-alive reuse, including a server
 * that closed an idle connection; redirects; retries after 5xx and cut
 * bodies; 404 as an answer; size limits; large bodies spooled to a file.
 * A scripted server answers each request as the test says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { createFetcher } from '../../src/io/index.js';
import { tempDir } from '../helpers/env.js';

type Answer = (path: string, socket: net.Socket, n: number) => void;

/** A server that reads request heads and lets `answer` write whatever bytes it likes. */
async function scripted(t: { after: (fn: () => void) => void }, answer: Answer): Promise<{ url: string; requests: string[]; connections: () => number; heads: () => number[] }> {
  const requests: string[] = [];
  /** Request heads found in each read. */
  const heads: number[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      heads.push((buf.match(/\r\n\r\n/g) ?? []).length);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const p = head.split(' ')[1];
        requests.push(p);
        answer(p, socket, requests.length);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, connections: () => connections, heads: () => heads };
}

const ok = (body: string | Buffer, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`;

test('bodies by length, chunks and connection end; 404 is null; keep-alive reuses one connection', async (t) => {
  const s = await scripted(t, (p, sock) => {
    if (p === '/len') sock.write(`${ok('hello')}hello`);
    else if (p === '/chunked') sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\n');
    else if (p === '/missing') sock.write('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found');
    else if (p === '/interim') sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else if (p === '/close') sock.end('HTTP/1.0 200 OK\r\n\r\nuntil the end');
  });
  const f = createFetcher(1);
  t.after(() => f.close());
  assert.equal((await f.get(`${s.url}/len`))?.toString(), 'hello');
  assert.equal((await f.get(`${s.url}/chunked`))?.toString(), 'hello, world');
  assert.equal(await f.get(`${s.url}/missing`), null);
  assert.equal((await f.get(`${s.url}/interim`))?.toString(), 'ok');
  assert.equal((await f.get(`${s.url}/len`))?.toString(), 'hello');
  assert.equal(s.connections(), 1, 'one kept-alive connection served every request so far');
  assert.equal((await f.get(`${s.url}/close`))?.toString(), 'until the end');
  assert.equal(f.stats.requests, 6);
});

test('a server that closed an idle kept-alive connection: the request is sent again on a new one', async (t) => {
  const s = await scripted(t, (_p, sock, n) => {
    sock.write(`${ok(`answer ${n}`)}answer ${n}`);
    // After answering, the server drops the connection without saying so.
    if (n === 1) setTimeout(() => sock.destroy(), 20);
  });
  const f = createFetcher(1);
  t.after(() => f.close());
  assert.equal((await f.get(`${s.url}/a`))?.toString(), 'answer 1');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal((await f.get(`${s.url}/b`))?.toString(), 'answer 2');
  assert.equal(s.connections(), 2);
});

test('5xx and cut bodies are retried; other errors and limits are not', async (t) => {
  const s = await scripted(t, (p, sock, n) => {
    if (p === '/flaky') {
      if (n === 1) sock.write('HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n');
      else if (n === 2) sock.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort');
      else sock.write(`${ok('0123456789')}0123456789`);
    } else if (p === '/forbidden') sock.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    else if (p === '/big') sock.write(`${ok('x'.repeat(100))}${'x'.repeat(100)}`);
    else if (p === '/down') sock.write('HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n');
  });
  const f = createFetcher(2);
  t.after(() => f.close());
  assert.equal((await f.get(`${s.url}/flaky`))?.toString(), '0123456789');
  await assert.rejects(f.get(`${s.url}/forbidden`), /answered HTTP 403/);
  await assert.rejects(f.get(`${s.url}/big`, { maxBytes: 50 }), /larger than/);
  await assert.rejects(f.get(`${s.url}/down`, { retries: 2 }), /failed 2 times \(HTTP 500\)/);
});

test('redirects are followed, a few hops at most', async (t) => {
  const s = await scripted(t, (p, sock) => {
    if (p === '/old') sock.write('HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 3\r\n\r\nbye');
    else if (p === '/new') sock.write(`${ok('here')}here`);
    else if (p.startsWith('/loop')) sock.write(`HTTP/1.1 302 Found\r\nLocation: /loop${p.length}\r\nContent-Length: 0\r\n\r\n`);
  });
  const f = createFetcher(1);
  t.after(() => f.close());
  assert.equal((await f.get(`${s.url}/old`))?.toString(), 'here');
  await assert.rejects(f.get(`${s.url}/loop`), /more than 5 redirects/);
});

test('a body over the spool limit goes to a file; one under it stays in memory', async (t) => {
  const dir = await tempDir(t);
  const big = Buffer.alloc(300_000, 7);
  const s = await scripted(t, (p, sock) => {
    if (p === '/big') {
      // In pieces, as a slow server sends it.
      sock.write(ok(big));
      for (let i = 0; i < big.length; i += 65_536) sock.write(big.subarray(i, i + 65_536));
    } else sock.write(`${ok('small')}small`);
  });
  const f = createFetcher(1);
  t.after(() => f.close());
  let n = 0;
  const spoolPath = (): string => path.join(dir, `spool-${n++}`);
  const spooled = await f.getOrSpool(`${s.url}/big`, { spoolOver: 100_000, spoolPath });
  assert.ok(spooled && !Buffer.isBuffer(spooled), 'spooled to a file');
  if (spooled && !Buffer.isBuffer(spooled)) {
    assert.equal(spooled.size, big.length);
    assert.equal((await stat(spooled.path)).size, big.length);
    assert.ok((await readFile(spooled.path)).equals(big));
  }
  const small = await f.getOrSpool(`${s.url}/small`, { spoolOver: 100_000, spoolPath });
  assert.ok(Buffer.isBuffer(small) && small.toString() === 'small');
});

test('pipelining: once a connection has stayed open, requests share it and leave together; unanswered ones are sent again', async (t) => {
  const s = await scripted(t, (p, sock) => {
    const body = `body of ${p}`;
    sock.write(`${ok(body)}${body}`);
  });
  const f = createFetcher(1, { pipeline: 4 });
  t.after(() => f.close());
  assert.equal((await f.get(`${s.url}/first`))?.toString(), 'body of /first');
  const paths = Array.from({ length: 12 }, (_, i) => `/p${i}`);
  const got = await Promise.all(paths.map((p) => f.get(`${s.url}${p}`)));
  assert.deepEqual(got.map((b) => b?.toString()), paths.map((p) => `body of ${p}`), 'every answer goes to its own request, in order');
  assert.equal(s.connections(), 1);
  assert.ok(s.heads().some((n) => n > 1), 'several request heads arrived in one read');
  // A server that drops the connection after every third answer, without a word.
  const served = new Map<net.Socket, number>();
  const d = await scripted(t, (p, sock) => {
    const n = (served.get(sock) ?? 0) + 1;
    served.set(sock, n);
    if (n > 3) return; // never answered: the connection is about to close
    const body = `answer to ${p}`;
    sock.write(`${ok(body)}${body}`);
    if (n === 3) setTimeout(() => sock.destroy(), 5);
  });
  const g = createFetcher(2, { pipeline: 4 });
  t.after(() => g.close());
  await g.get(`${d.url}/warm`);
  const many = Array.from({ length: 20 }, (_, i) => `/m${i}`);
  const answers = await Promise.all(many.map((p) => g.get(`${d.url}${p}`)));
  assert.deepEqual(answers.map((b) => b?.toString()), many.map((p) => `answer to ${p}`));
  assert.ok(d.connections() >= 7, `each connection served three answers (${d.connections()} connections)`);
});
