// nginx from Debian, started by the bench on a free loopback port to serve
// repositories for the pull operations, with an access log that records the
// response body bytes of every request.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** The nginx binary: `nginx` on PATH, else /usr/sbin/nginx (not on a user's PATH on Debian). */
export function nginxCommand() {
  const onPath = (process.env.PATH || '').split(path.delimiter).find((d) => d && isExecutable(path.join(d, 'nginx')));
  if (onPath) return path.join(onPath, 'nginx');
  if (isExecutable('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  return null;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start nginx serving directory `root` (read-only, symlinks followed) with its
 * configuration, logs and temporary files in `dir`. Returns
 *   url          http://127.0.0.1:PORT/
 *   mark()       a position in the access log
 *   since(mark)  the requests logged after `mark` (see parseAccessLog)
 *   stop()       stop nginx
 */
export async function startNginx(dir, root) {
  const command = nginxCommand();
  if (!command) throw new Error("nginx is missing; install the Debian package 'nginx' (apt-get install nginx)");
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const accessLog = path.join(dir, 'access.log');
  const errorLog = path.join(dir, 'error.log');
  fs.writeFileSync(conf, `
daemon off;
master_process off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root root;' : ''}
pid ${dir}/nginx.pid;
error_log ${errorLog};
events { worker_connections 1024; }
http {
  log_format bench '$request_method $uri $status $body_bytes_sent';
  access_log ${accessLog} bench;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { autoindex off; }
  }
}
`);
  const proc = spawn(command, ['-c', conf, '-p', `${dir}/`, '-e', errorLog], { stdio: 'ignore' });
  let exited = null;
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => {
    exited = code ?? signal;
    resolve();
  }));
  proc.once('error', () => {}); // reported through `exited` below
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}/`;
  let up = false;
  for (let i = 0; i < 200 && !up && exited === null; i++) {
    up = await fetch(url).then(() => true, () => false);
    if (!up) await new Promise((r) => setTimeout(r, 50));
  }
  if (!up) {
    proc.kill('SIGKILL');
    const errors = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    throw new Error(`nginx did not start (${exited === null ? 'no answer' : `exit ${exited}`}): ${errors}`);
  }
  fs.writeFileSync(accessLog, ''); // forget the probes
  return {
    url,
    mark: () => fileSize(accessLog),
    since: (mark) => parseAccessLog(readFrom(accessLog, mark)),
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (exited === null) {
        proc.kill('SIGTERM');
        await exit;
      }
    },
  };
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file, offset) {
  const size = fileSize(file);
  if (size <= offset) return '';
  const buf = Buffer.alloc(size - offset);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, offset);
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('utf8');
}

/**
 * Totals of access log lines "METHOD URI STATUS BYTES": requests and response
 * body bytes, overall and by what was fetched (the first path component
 * inside the served repository, which is the second of the URI: `deltas`,
 * `objects`, `summary`, ...), and how many requests did not answer 200.
 */
export function parseAccessLog(text) {
  const totals = { requests: 0, bytes: 0, failed: 0, byKind: {} };
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+) (\d{3}) (\d+)$/.exec(line.trim());
    if (!m) continue;
    const bytes = Number(m[4]);
    const kind = m[2].split('/').filter(Boolean)[1] ?? '(root)';
    totals.requests++;
    totals.bytes += bytes;
    if (m[3] !== '200') totals.failed++;
    const k = (totals.byKind[kind] ??= { requests: 0, bytes: 0 });
    k.requests++;
    k.bytes += bytes;
  }
  return totals;
}
