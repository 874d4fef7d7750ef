// Running the two tools and measuring each child's wall time and peak RSS.

import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';

/**
 * The two tools under comparison. Each has a display name and the argv
 * prefix that precedes `--repo=R VERB ...`; `admin`, the prefix of
 * `--sysroot=DIR VERB ...` for deployments; and `hostStatus`, the prefix of
 * `--sysroot=DIR status`.
 *   ostree:    $OSTREE_BIN or `ostree`; `ostree admin` for both others
 *   ostree-ts: $OSTREE_TS_BIN, else `node <repo>/dist/src/cli/main.js`;
 *              `... main.js admin`; $OSTREE_TS_ATOMIC_BIN, else
 *              `node <repo>/dist/src/cli/atomic.js`, for the status
 */
export function resolveTools(repoRoot, env = process.env) {
  const ostreeBin = env.OSTREE_BIN || 'ostree';
  const theirs = {
    name: 'ostree',
    argv: [ostreeBin],
    admin: [ostreeBin, 'admin'],
    hostStatus: [ostreeBin, 'admin'],
  };
  const oursBin = env.OSTREE_TS_BIN || path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!fs.existsSync(oursBin) && !env.OSTREE_TS_BIN) {
    throw new Error(`${oursBin} does not exist; run \`npm run build\` first or set OSTREE_TS_BIN`);
  }
  const atomicBin = env.OSTREE_TS_ATOMIC_BIN || path.join(repoRoot, 'dist', 'src', 'cli', 'atomic.js');
  const argvOf = (bin) => (/\.[cm]?js$/.test(bin) ? [process.execPath, bin] : [bin]);
  const ours = {
    name: 'ostree-ts',
    argv: argvOf(oursBin),
    admin: [...argvOf(oursBin), 'admin'],
    hostStatus: argvOf(atomicBin),
  };
  return [theirs, ours];
}

/** Version string printed by the real ostree, or null. */
export function ostreeVersion(tool) {
  const res = spawnSync(tool.argv[0], [...tool.argv.slice(1), '--version'], { encoding: 'utf8' });
  const m = /Version:\s*'?([^'\s]+)/.exec(res.stdout || '');
  return m ? m[1] : null;
}

/**
 * Make sure `command` exists, installing Debian package `pkg` with apt-get if
 * it is missing and we are root; otherwise explain what to install.
 */
export function ensureCommand(command, pkg, log) {
  if (commandExists(command)) return;
  const canInstall = process.getuid?.() === 0 && commandExists('apt-get');
  if (!canInstall) {
    throw new Error(`${command} is missing; install the Debian package '${pkg}' (apt-get install ${pkg})`);
  }
  log(`${command} is missing; installing Debian package '${pkg}'`);
  const res = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (res.status !== 0 || !commandExists(command)) {
    throw new Error(`could not install '${pkg}'; install it and re-run`);
  }
}

/** Make sure `command` exists (without installing anything); otherwise explain what to install. */
export function requireCommand(command, pkg) {
  if (!commandExists(command)) {
    throw new Error(`${command} is missing; install the Debian package '${pkg}' (apt-get install ${pkg})`);
  }
  if (command === 'tar') {
    const res = spawnSync('tar', ['--version'], { encoding: 'utf8' });
    if (!/GNU tar/.test(res.stdout || '')) {
      throw new Error("tar is not GNU tar; the tarballs need GNU tar (Debian package 'tar')");
    }
  }
}

function commandExists(command) {
  if (command.includes('/')) return isExecutable(command);
  return (process.env.PATH || '')
    .split(path.delimiter)
    .some((dir) => dir && isExecutable(path.join(dir, command)));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function ensureGnuTime(log) {
  ensureCommand(GNU_TIME, 'time', log);
}

/**
 * Run `tool --repo=REPO ...args` under GNU time.
 * Resolves to { ok, status, wallS, rssKB, stdout, stderr }. Wall time is
 * measured here with a monotonic clock (GNU time only has centiseconds);
 * peak RSS (max resident set size of the child) comes from GNU time's %M.
 * The disk is synced first so that earlier writes do not skew the timing.
 */
export async function runTimed(tool, repo, args, scratchDir) {
  return runTimedArgv([...tool.argv, `--repo=${repo}`, ...args], scratchDir);
}

/** Run the command `argv` under GNU time; the same as runTimed. */
export async function runTimedArgv(command, scratchDir) {
  settleDisk();
  const timeFile = path.join(scratchDir, `time-${randomUUID()}.txt`);
  const argv = ['-f', '%e %M', '-o', timeFile, ...command];
  const started = process.hrtime.bigint();
  const { status, stdout, stderr } = await spawnCollect(GNU_TIME, argv);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const rssKB = readPeakRss(timeFile);
  return { ok: status === 0, status, wallS, rssKB, stdout, stderr };
}

/**
 * Flush dirty pages left by earlier steps (the other tool's writes, removed
 * repos) so they are not charged to the next timed command's fsyncs.
 */
function settleDisk() {
  spawnSync('sync', { stdio: 'ignore' });
}

/** Run an untimed helper command (e.g. `init`) with the tool. */
export async function runPlain(tool, repo, args) {
  const res = await spawnCollect(tool.argv[0], [...tool.argv.slice(1), `--repo=${repo}`, ...args]);
  return { ok: res.status === 0, ...res };
}

/** Run any untimed helper command. */
export async function runCommand(command, args) {
  const res = await spawnCollect(command, args);
  return { ok: res.status === 0, ...res };
}

function readPeakRss(timeFile) {
  let text = '';
  try {
    text = fs.readFileSync(timeFile, 'utf8');
  } catch {
    return null;
  } finally {
    fs.rmSync(timeFile, { force: true });
  }
  // On abnormal exit GNU time writes a "Command ..." line before the format.
  const last = text.trim().split('\n').pop() || '';
  const m = /^([\d.]+) (\d+)$/.exec(last);
  return m ? Number(m[2]) : null;
}

const MAX_CAPTURE = 64 * 1024;

function spawnCollect(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = capture(child.stdout);
    const err = capture(child.stderr);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ status: code ?? `signal ${signal}`, stdout: out(), stderr: err() });
    });
  });
}

/** Keep the first MAX_CAPTURE bytes of a stream; returns a getter. */
function capture(stream) {
  const chunks = [];
  let size = 0;
  stream.on('data', (chunk) => {
    if (size < MAX_CAPTURE) chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

/** Whether `dir` is on tmpfs (RAM-backed), where repos would skew I/O timings. */
export function isTmpfs(dir) {
  const TMPFS_MAGIC = 0x01021994;
  try {
    return fs.statfsSync(dir).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

export function hostInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}
