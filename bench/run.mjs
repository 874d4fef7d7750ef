#!/usr/bin/env node
// Benchmark ostree-ts against the real `ostree` binary, side by side, on the
// same input trees. See bench/README.md.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  ensureCommand,
  ensureGnuTime,
  hostInfo,
  isTmpfs,
  ostreeVersion,
  requireCommand,
  resolveTools,
  runCommand,
  runPlain,
  runTimedArgv,
} from './measure.mjs';
import { nginxCommand, startNginx } from './serve.mjs';
import { STARTUP_RUNS, benchStartup, formatStartup } from './startup.mjs';
import {
  ALL_TREES,
  DEBIAN_TREES,
  KNOWN_TREES,
  cacheRoot,
  diffTrees,
  ensureTarballs,
  ensureTree,
  ensureUpdateTree,
  hasUpdateTree,
  isKernelTree,
  scanTree,
  tarballCommands,
  warmFiles,
} from './trees.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'latest.json');
const QUICK_TREES = ['1k', '10k'];
const LARGE_TREES = new Set(['minbase', 'minbase-pkgs', 'minbase-kernel', '100k']);

/** Commit of the tree (commit A of the delta operations). */
const COMMIT_TIMESTAMP = '@1700000000';
/** Commit of the update tree (commit B), on top of A on the same branch. */
const UPDATE_TIMESTAMP = '@1700086400';

const commitArgs = (ws) => [
  'commit', '-b', 'bench', `--tree=dir=${ws.tree}`, `--timestamp=${COMMIT_TIMESTAMP}`, '-s', 'bench',
];
const checkoutArgs = (name) => (ws) => ['checkout', 'bench', path.join(ws.dir, name)];
const fsckArgs = () => ['fsck'];
/** The tarball this tool commits from is op.tarballs[tool name] (a kind: tar, tar.gz, tar.zst). */
const commitTarArgs = (ws, op) => [
  'commit', '-b', 'bench', `--tree=tar=${ws.tars[op.tarballs[ws.tool.name]]}`, '--timestamp=@1700000000', '-s', 'bench',
];
/** Uncompressed tar from both: ostree's export cannot compress. */
const exportOutput = (name) => (ws) => path.join(ws.dir, `${name}.tar`);
const exportArgs = (name) => (ws) =>
  ws.tool.name === 'ostree'
    ? ['export', 'bench', `--output=${exportOutput(name)(ws)}`]
    : ['export', 'bench', '-o', exportOutput(name)(ws)];

/**
 * Repositories of a workspace and their modes. Each is created on first use;
 * the tar commits get their own so that they, too, start from an empty repo.
 */
const REPO_MODES = {
  archive: 'archive',
  bare: 'bare',
  'tar-archive': 'archive',
  'tar-bare': 'bare',
  'tar-plain-archive': 'archive',
  'pull-bare-user': 'bare-user',
  'pull-archive': 'archive',
  'update-pull': 'bare-user',
};
/** Repositories of a workspace that are copies made by an operation's `prepare`, not `init`. */
const COPIED_REPOS = ['delta'];

// ---------------------------------------------------------------------------
// Pull and static-delta operations. They work on repositories made by ostree
// (see makeSources) and served by nginx: `pull` holds commit A of the tree on
// branch `bench`, with `summary -u`; `update` holds A and then commit B of the
// update tree on the same branch, without a summary; `updatePlain` is the same
// with `summary -u` and no delta. Each workspace is served at URL/<name>/
// through a symlink in nginx's root that the operations point at the
// repository the client is to pull from.

const servedName = (ws) => path.basename(ws.dir);

function serveFrom(ws, repo) {
  const link = path.join(ws.serve.root, servedName(ws));
  fs.rmSync(link, { force: true });
  fs.symlinkSync(repo, link);
}

const remoteUrl = (ws) => `${ws.serve.server.url}${servedName(ws)}/`;

/** Serve the `pull` repository and add it as remote `origin` of the op's repository (untimed). */
async function preparePull(ws, op) {
  serveFrom(ws, ws.serve.sources.pull);
  const res = await runPlain(ws.tool, ws.repos[op.repo], ['remote', 'add', '--no-gpg-verify', 'origin', remoteUrl(ws)]);
  return res.ok ? null : `remote add failed (${res.status}): ${tail(res.stderr)}`;
}

/**
 * Give the op's repository commit A the way `pull-bare-user` does (untimed),
 * then serve `updatePlain`, which has B and no delta.
 */
async function prepareUpdatePull(ws, op) {
  const error = await preparePull(ws, op);
  if (error) return error;
  const res = await runPlain(ws.tool, ws.repos[op.repo], pullArgs());
  if (!res.ok) return `pulling A first failed (${res.status}): ${tail(res.stderr)}`;
  serveFrom(ws, ws.serve.sources.updatePlain);
  return null;
}

/** Copy the `update` repository (A and B) into the workspace, for this tool's delta. */
async function prepareDelta(ws) {
  const res = await runCommand('cp', ['-a', '--reflink=auto', ws.serve.sources.update, ws.repos.delta]);
  return res.ok ? null : `copying the repository failed: ${tail(res.stderr)}`;
}

/** Update the summary of this tool's delta repository with this tool (untimed) and serve it. */
async function prepareDeltaPull(ws) {
  const res = await runPlain(ws.tool, ws.repos.delta, ['summary', '-u']);
  if (!res.ok) return `summary -u after static-delta generate failed (${res.status}): ${tail(res.stderr)}`;
  serveFrom(ws, ws.repos.delta);
  return null;
}

const pullArgs = () => ['pull', 'origin', 'bench'];
const deltaArgs = (ws) => ['static-delta', 'generate', `--from=${ws.serve.sources.a}`, `--to=${ws.serve.sources.b}`];

/** After a pull: what nginx sent, and the commit the pulled ref names, which must be `want`. */
const inspectPull = (want) => async (ws, op, sample, mark) => {
  await new Promise((r) => setTimeout(r, 50)); // let nginx finish its log lines
  sample.transfer = ws.serve.server.since(mark);
  const got = readRef(ws.repos[op.repo], 'refs/remotes/origin/bench');
  sample.checksum = got ?? '';
  const expected = ws.serve.sources[want];
  if (got !== expected) return `exit 0 but origin:bench is ${got ?? 'missing'}, not ${expected}`;
  return null;
};

/** After static-delta generate: the size and file count of the repository's deltas/ directory. */
async function inspectDelta(ws, op, sample) {
  const { files, bytes } = directorySize(path.join(ws.repos.delta, 'deltas'));
  if (!files) return 'exit 0 but the repository has no files under deltas/';
  sample.deltaBytes = bytes;
  sample.deltaFiles = files;
  return null;
}

function readRef(repo, ref) {
  try {
    return fs.readFileSync(path.join(repo, ref), 'utf8').trim();
  } catch {
    return null;
  }
}

function directorySize(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const ent of entries) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) {
        files++;
        bytes += fs.statSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

// ---------------------------------------------------------------------------
// Deployment operations. Each works on a sysroot of its own in the workspace,
// made untimed with the real ostree for both tools (same repository content):
// `admin init-fs`, `admin os-init debian`, and a commit of the tree on
// `debian/stable` into DIR/ostree/repo (mode bare), then `deploys` deployments
// of it. Deployment directories carry the immutable attribute, so workspaces
// holding sysroots are cleared with chattr before they are removed.

const OS_NAME = 'debian';
const OS_REF = 'debian/stable';
const DEPLOY_KARG = 'root=/dev/vda1';
/** Invocations of a fast command per run; the sample is their median. */
const STATUS_REPEAT = 10;
/** ostree-ts's status should take less than this (ms, median). */
const STATUS_TARGET_MS = 150;

const sysrootDir = (ws, op) => path.join(ws.dir, `sysroot-${op.name}`);
const deployArgs = (ws, op) => [
  'deploy', `--os=${OS_NAME}`, `--karg=${DEPLOY_KARG}`, OS_REF,
];

/** Make the op's sysroot with the real ostree (untimed) and deploy `deploys` times. */
const prepareSysroot = (deploys) => async (ws, op) => {
  const dir = sysrootDir(ws, op);
  fs.mkdirSync(dir);
  ws.sysroots.push(dir);
  const admin = (args) => runCommand(ws.ostree.admin[0], [...ws.ostree.admin.slice(1), ...args]);
  const steps = [
    () => admin(['init-fs', dir]),
    () => admin([`--sysroot=${dir}`, 'os-init', OS_NAME]),
    () => runPlain(ws.ostree, path.join(dir, 'ostree', 'repo'), [
      'commit', '-b', OS_REF, `--tree=dir=${ws.tree}`, `--timestamp=${COMMIT_TIMESTAMP}`, '-s', 'bench',
    ]),
    ...Array.from({ length: deploys }, () => () => admin([`--sysroot=${dir}`, ...deployArgs(ws, op)])),
  ];
  for (const step of steps) {
    const res = await step();
    if (!res.ok) return `making the sysroot with ostree failed (${res.status}): ${tail(res.stderr)}`;
  }
  ws.sysrootCommit = readRef(path.join(dir, 'ostree', 'repo'), `refs/heads/${OS_REF}`);
  return null;
};

/** The deployments `ostree admin status` lists: [{ os, checksum, serial }]. */
async function listDeployments(ws, dir) {
  const res = await runCommand(ws.ostree.admin[0], [...ws.ostree.admin.slice(1), `--sysroot=${dir}`, 'status']);
  if (!res.ok) return { error: `ostree admin status failed (${res.status}): ${tail(res.stderr)}` };
  const deployments = [...res.stdout.matchAll(/^[* ] (\S+) ([0-9a-f]{64})\.(\d+)/gm)].map((m) => ({
    os: m[1], checksum: m[2], serial: Number(m[3]),
  }));
  return { deployments };
}

/** Boot entries (boot/loader/entries/*.conf) of a sysroot, as text. */
function bootEntries(dir) {
  const entries = path.join(dir, 'boot', 'loader', 'entries');
  try {
    return fs.readdirSync(entries).filter((n) => n.endsWith('.conf')).map((n) => fs.readFileSync(path.join(entries, n), 'utf8'));
  } catch {
    return [];
  }
}

/**
 * After a deploy: the real ostree's `admin status` must list exactly one
 * deployment, of the committed tree, and there must be one boot entry whose
 * options carry the kernel argument. The sample's checksum is the deployed
 * commit (the same for both tools).
 */
async function inspectDeploy(ws, op, sample) {
  const dir = sysrootDir(ws, op);
  const { deployments, error } = await listDeployments(ws, dir);
  if (error) return `exit 0 but ${error}`;
  if (deployments.length !== 1) return `exit 0 but ostree admin status lists ${deployments.length} deployments, not 1`;
  const [d] = deployments;
  sample.checksum = d.checksum;
  if (d.os !== OS_NAME || d.checksum !== ws.sysrootCommit) {
    return `exit 0 but the deployment is ${d.os} ${d.checksum}, not ${OS_NAME} ${ws.sysrootCommit}`;
  }
  const entries = bootEntries(dir);
  const options = entries.map((e) => /^options\s+(.*)$/m.exec(e)?.[1] ?? '');
  if (entries.length !== 1 || !options[0].split(/\s+/).includes(DEPLOY_KARG)) {
    return `exit 0 but boot/loader/entries has ${entries.length} entries` +
      (entries.length === 1 ? ` whose options (${options[0]}) lack ${DEPLOY_KARG}` : ', not 1');
  }
  return null;
}

/** Before timing status: the sysroot must hold two deployments (checked with ostree). */
async function prepareStatus(ws, op) {
  const error = await prepareSysroot(2)(ws, op);
  if (error) return error;
  const listed = await listDeployments(ws, sysrootDir(ws, op));
  if (listed.error) return listed.error;
  if (listed.deployments.length !== 2) return `the sysroot has ${listed.deployments.length} deployments after two deploys, not 2`;
  return null;
}

/**
 * After status: its output should name the deployed commit (a warning, not a
 * failure). When ostree-ts runs on Node.js, the start of an empty Node.js
 * process (`node -e ''`) is timed right after, the same number of times, as
 * the floor of any command of ostree-ts on this machine at this moment.
 */
async function inspectStatus(ws, op, sample, mark, res) {
  sample.namesCommit = Boolean(ws.sysrootCommit) && res.stdout.includes(ws.sysrootCommit.slice(0, 10));
  if (!sample.namesCommit) ws.log(`warning: ${ws.tool.name} status output does not mention commit ${ws.sysrootCommit?.slice(0, 10)}`);
  if (ws.tool.name === 'ostree-ts' && ws.tool.hostStatus[0] === process.execPath) {
    const times = [];
    for (let i = 0; i < (op.repeat ?? 1); i++) {
      const empty = await runTimedArgv([process.execPath, '-e', ''], ws.dir);
      if (empty.ok) times.push(empty.wallS);
    }
    sample.nodeStartupS = median(times);
  }
  return null;
}

/**
 * Failure messages that mean the command is not in this build of ostree-ts
 * (rather than a command that failed): the operation is then skipped for
 * ostree-ts in the remaining runs and reported as SKIPPED, not FAILED.
 */
const UNAVAILABLE = /unknown command|not available in this build|not supported yet|cannot find module/i;

/**
 * Operations in execution order. `repo` is the repository (see REPO_MODES)
 * the operation works on; `needs` lists operations that must have succeeded
 * first (they are run, untimed in the report, even when not selected);
 * `checksum` marks operations whose stdout is a commit checksum to compare
 * between the tools. `args(ws, op)` builds the arguments after `--repo=R`;
 * `ws.tool.name` tells which tool runs. `tarballs` maps each tool to the
 * tarball it reads (see ensureTarballs); `output(ws)` is a file the operation
 * writes, whose size is recorded; `versus` names the directory commit a tar
 * commit is compared with, per tool. `serve` marks operations that need the
 * served repositories (see makeSources), `update` those that also need the
 * tree's update tree; `prepare(ws, op)` runs untimed before the command and
 * `inspect(ws, op, sample, mark)` after it (`mark` is the position in nginx's
 * access log before the command); both return an error message or null.
 * Instead of `repo` and `args`, `command(ws, op)` gives the whole command
 * line (the deployment operations); `repeat` runs it that many times per run
 * and takes the median; `kernel` marks operations that need an OS tree with
 * a kernel (see isKernelTree).
 */
const OPERATIONS = [
  { name: 'commit-archive', repo: 'archive', needs: [], args: commitArgs, checksum: true },
  { name: 'commit-bare', repo: 'bare', needs: [], args: commitArgs, checksum: true },
  { name: 'recommit-archive', repo: 'archive', needs: ['commit-archive'], args: commitArgs, checksum: true },
  { name: 'checkout-bare', repo: 'bare', needs: ['commit-bare'], args: checkoutArgs('checkout-bare') },
  { name: 'checkout-archive', repo: 'archive', needs: ['commit-archive'], args: checkoutArgs('checkout-archive') },
  { name: 'fsck-archive', repo: 'archive', needs: ['commit-archive'], args: fsckArgs },
  { name: 'fsck-bare', repo: 'bare', needs: ['commit-bare'], args: fsckArgs },
  {
    name: 'commit-tar-archive', repo: 'tar-archive', needs: [], args: commitTarArgs, checksum: true,
    tarballs: { ostree: 'tar.gz', 'ostree-ts': 'tar.zst' }, versus: 'commit-archive',
  },
  {
    name: 'commit-tar-bare', repo: 'tar-bare', needs: [], args: commitTarArgs, checksum: true,
    tarballs: { ostree: 'tar.gz', 'ostree-ts': 'tar.zst' }, versus: 'commit-bare',
  },
  {
    name: 'commit-tar-plain-archive', repo: 'tar-plain-archive', needs: [], args: commitTarArgs, checksum: true,
    tarballs: { ostree: 'tar', 'ostree-ts': 'tar' }, versus: 'commit-archive',
  },
  {
    name: 'export-archive', repo: 'archive', needs: ['commit-archive'],
    args: exportArgs('export-archive'), output: exportOutput('export-archive'),
  },
  {
    name: 'pull-bare-user', repo: 'pull-bare-user', needs: [], serve: true, checksum: true,
    prepare: preparePull, args: pullArgs, inspect: inspectPull('a'),
  },
  {
    name: 'pull-archive', repo: 'pull-archive', needs: [], serve: true, checksum: true,
    prepare: preparePull, args: pullArgs, inspect: inspectPull('a'),
  },
  {
    name: 'update-pull', repo: 'update-pull', needs: [], serve: true, update: true, checksum: true,
    prepare: prepareUpdatePull, args: pullArgs, inspect: inspectPull('b'),
  },
  {
    name: 'delta-generate', repo: 'delta', needs: [], serve: true, update: true,
    prepare: prepareDelta, args: deltaArgs, inspect: inspectDelta,
  },
  {
    name: 'delta-pull', repo: 'pull-bare-user', needs: ['pull-bare-user', 'delta-generate'], serve: true, update: true,
    checksum: true, prepare: prepareDeltaPull, args: pullArgs, inspect: inspectPull('b'),
  },
  {
    name: 'admin-deploy', needs: [], kernel: true, checksum: true, prepare: prepareSysroot(0),
    command: (ws, op) => [...ws.tool.admin, `--sysroot=${sysrootDir(ws, op)}`, ...deployArgs(ws, op)],
    inspect: inspectDeploy,
  },
  {
    name: 'atomic-status', needs: [], kernel: true, repeat: STATUS_REPEAT, prepare: prepareStatus,
    command: (ws, op) => [...ws.tool.hostStatus, `--sysroot=${sysrootDir(ws, op)}`, 'status'],
    inspect: inspectStatus,
  },
];
const OP_NAMES = OPERATIONS.map((op) => op.name);
/**
 * CLI start-up (bench/startup.mjs): not per tree but once, on a small
 * fixture of its own, in interleaved pairs with an empty Node.js process.
 */
const STARTUP_OP = 'startup';
/** What the real ostree does for each ostree-ts start-up command, when the bench times that too. */
const STARTUP_VERSUS = { 'rev-parse': 'ostree rev-parse', 'atomic status': 'ostree admin status' };
const ALL_OP_NAMES = [...OP_NAMES, STARTUP_OP];

/** Break `text` at spaces into lines of at most `width` characters. */
function wrap(text, width) {
  const lines = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

const USAGE = `usage: node bench/run.mjs [options]

Times ostree-ts against the real ostree on the same trees and prints the
ratio (ostree-ts / ostree) of wall time and peak RSS.

  --trees=LIST   comma-separated subset of: ${KNOWN_TREES.join(', ')}
                 (default: ${ALL_TREES.join(', ')})
  --ops=LIST     comma-separated subset of:
                 ${wrap(ALL_OP_NAMES.join(', '), 62).join('\n                 ')}
                 (default: all)
  --runs=N       runs per tool; the median is reported
                 (default: 1 for the Debian trees and 100k, 3 otherwise;
                 for startup, pairs per command: at least 5, default ${STARTUP_RUNS})
  --quick        shorthand for --trees=${QUICK_TREES.join(',')} --runs=1
  --keep         keep the temporary repositories (printed) for inspection
  --compose      also time the compose of recipes/debian-bookworm-minimal.yaml
                 against the commits of its tree (bench/compose.mjs; root)
  -h, --help     show this help

Environment:
  OSTREE_TS_BIN          ostree-ts command (default: node dist/src/cli/main.js)
  OSTREE_TS_ATOMIC_BIN   its host command, for atomic-status
                         (default: node dist/src/cli/atomic.js)
  OSTREE_BIN             real ostree command (default: ostree)
  OSTREE_TS_BENCH_CACHE  cache directory for trees and temporary repos
                         (default: \${XDG_CACHE_HOME:-~/.cache}/ostree-ts-bench)
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      trees: { type: 'string' },
      ops: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      compose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const trees = values.trees ? splitList(values.trees, KNOWN_TREES, 'tree') : values.quick ? QUICK_TREES : ALL_TREES;
  const ops = values.ops ? splitList(values.ops, ALL_OP_NAMES, 'operation') : ALL_OP_NAMES;
  let runs = values.quick ? 1 : null;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, not '${values.runs}'`);
  }
  return { trees, ops, runs, keep: values.keep, compose: values.compose, help: values.help };
}

function splitList(text, known, what) {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!known.includes(item)) throw new Error(`unknown ${what} '${item}' (known: ${known.join(', ')})`);
  }
  return items;
}

/** Selected operations plus everything they need, in execution order. */
function planOperations(selected) {
  const wanted = new Set(selected);
  for (const op of [...OPERATIONS].reverse()) {
    if (wanted.has(op.name)) op.needs.forEach((n) => wanted.add(n));
  }
  return OPERATIONS.filter((op) => wanted.has(op.name));
}

// ---------------------------------------------------------------------------
// Running

/**
 * A tool's scratch space for one run: its own fresh repositories (see
 * REPO_MODES). `tree` is the input directory, `tars` the tarballs of it by kind.
 */
function makeWorkspace(workRoot, tool, inputs) {
  const dir = fs.mkdtempSync(path.join(workRoot, `${tool.name}-`));
  return {
    tool,
    ostree: inputs.ostree, // the real ostree, which makes the sysroots
    log: inputs.log,
    sysroots: [], // sysroot directories made in dir (see removeWorkspace)
    dir,
    tree: inputs.tree,
    tars: inputs.tars,
    serve: inputs.serve, // { server, root, sources } when the plan has pull or delta operations
    repos: Object.fromEntries(
      [...Object.keys(REPO_MODES), ...COPIED_REPOS].map((key) => [key, path.join(dir, `repo-${key}`)]),
    ),
    initialized: new Set(),
    outcome: new Map(), // operation name -> 'ok' | failure message
  };
}

/**
 * Remove a workspace. Deployment directories carry the immutable attribute,
 * so it is cleared first in every sysroot (chattr's exit status is ignored:
 * it is 1 whenever the tree holds symlinks, whose flags it cannot read).
 */
function removeWorkspace(ws) {
  for (const dir of ws.sysroots) spawnSync('chattr', ['-R', '-f', '-i', dir], { stdio: 'ignore' });
  fs.rmSync(ws.dir, { recursive: true, force: true });
}

async function ensureRepo(ws, key) {
  if (ws.initialized.has(key) || COPIED_REPOS.includes(key)) return null;
  const mode = REPO_MODES[key];
  const res = await runPlain(ws.tool, ws.repos[key], ['init', `--mode=${mode}`]);
  if (!res.ok) return `init --mode=${mode} failed (${res.status}): ${tail(res.stderr)}`;
  ws.initialized.add(key);
  return null;
}

/** Run one operation in a workspace. Resolves to a measurement or { error }. */
async function runOperation(ws, op) {
  const missing = op.needs.find((n) => ws.outcome.get(n) !== 'ok');
  if (missing) return { error: `skipped, ${missing} failed: ${ws.outcome.get(missing) ?? 'not run'}` };
  if (op.repo) {
    const initError = await ensureRepo(ws, op.repo);
    if (initError) return { error: initError };
  }
  const prepareError = op.prepare && (await op.prepare(ws, op));
  if (prepareError) return { error: prepareError };
  const mark = ws.serve?.server.mark();
  const argv = op.command
    ? op.command(ws, op)
    : [...ws.tool.argv, `--repo=${ws.repos[op.repo]}`, ...op.args(ws, op)];
  const runs = [];
  for (let i = 0; i < (op.repeat ?? 1); i++) {
    const res = await runTimedArgv(argv, ws.dir);
    if (!res.ok) {
      const error = `exit ${res.status}: ${tail(res.stderr)}`;
      const unavailable = ws.tool.name === 'ostree-ts' && UNAVAILABLE.test(res.stderr);
      return unavailable ? { error, unavailable: `command not in this build (${tail(res.stderr, 1)})` } : { error };
    }
    runs.push(res);
  }
  const res = runs[0];
  const sample = { wallS: median(runs.map((r) => r.wallS)), rssKB: median(runs.map((r) => r.rssKB)) };
  if (runs.length > 1) sample.repeats = runs.map((r) => ({ wallS: r.wallS, rssKB: r.rssKB }));
  if (op.checksum && !op.inspect) sample.checksum = lastLine(res.stdout);
  if (op.inspect) {
    const error = await op.inspect(ws, op, sample, mark, res);
    if (error) return { error };
  }
  if (op.output) {
    const size = fileSize(op.output(ws));
    if (!size) return { error: `exit 0 but ${path.basename(op.output(ws))} is ${size === null ? 'missing' : 'empty'}` };
    sample.outputBytes = size;
  }
  return sample;
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

function tail(text, lines = 3) {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

function lastLine(text) {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/**
 * Empty per-operation record: samples (with checksums) and failures for each
 * tool; `unavailable` is set when the tool does not have the command.
 */
function emptyRecord(tools) {
  const perTool = () => ({ samples: [], failures: [], unavailable: null });
  return Object.fromEntries(tools.map((t) => [t.name, perTool()]));
}

/**
 * Benchmark one tree: `runs` rounds; in each, every operation is run by both
 * tools back to back, alternating which tool goes first from round to round.
 */
async function benchTree({ treeName, inputs: given, tools, plan, selected, runs, workRoot, keep, log }) {
  const inputs = { ...given, ostree: tools[0], log };
  const records = new Map(plan.map((op) => [op.name, emptyRecord(tools)]));
  const mismatches = [];
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? tools : [...tools].reverse();
    const spaces = order.map((tool) => makeWorkspace(workRoot, tool, inputs));
    try {
      for (const op of plan) {
        const results = await runRound(spaces, op, records.get(op.name));
        logRound(log, treeName, op, round, results);
        const mismatch = op.checksum && selected.includes(op.name) && checksumMismatch(treeName, op, results);
        if (mismatch) addMismatch(mismatches, mismatch, round + 1);
      }
    } finally {
      if (keep) {
        log(`kept ${spaces.map((ws) => ws.dir).join(' and ')}`);
        if (spaces.some((ws) => ws.sysroots.length)) {
          log('(their sysroots hold immutable deployment directories: chattr -i them before removing)');
        }
      } else spaces.forEach(removeWorkspace);
    }
  }
  const operations = plan
    .filter((op) => selected.includes(op.name))
    .map((op) => summarize(op.name, records.get(op.name), tools));
  addVersus(operations);
  return { operations, mismatches };
}

/** Run `op` in each workspace in turn; returns { toolName: sample-or-error }. */
async function runRound(spaces, op, record) {
  const results = {};
  for (const ws of spaces) {
    const name = ws.tool.name;
    const result = record[name].unavailable
      ? { error: `skipped: ${record[name].unavailable}`, skipped: true }
      : await runOperation(ws, op);
    ws.outcome.set(op.name, result.error ? result.error : 'ok');
    if (result.unavailable) record[name].unavailable = result.unavailable;
    else if (result.error && !result.skipped) record[name].failures.push(result.error);
    else if (!result.error) record[name].samples.push(result);
    results[name] = result;
  }
  return results;
}

function logRound(log, treeName, op, round, results) {
  const parts = Object.entries(results).map(([name, r]) =>
    r.error
      ? `${name} ${r.unavailable || r.skipped ? 'SKIPPED' : 'FAILED'} (${r.unavailable ?? r.error})`
      : `${name} ${r.wallS.toFixed(3)} s ${mb(r.rssKB)} MB` +
        (r.repeats ? ` (median of ${r.repeats.length})` : '') +
        (r.outputBytes === undefined ? '' : ` (wrote ${(r.outputBytes / 2 ** 20).toFixed(1)} MiB)`),
  );
  log(`${treeName} ${op.name} #${round + 1}: ${parts.join(', ')}`);
}

/** Record a mismatch once per distinct pair of checksums, listing the runs it occurred in. */
function addMismatch(mismatches, mismatch, run) {
  const same = mismatches.find(
    (m) => m.operation === mismatch.operation && m.ostree === mismatch.ostree && m['ostree-ts'] === mismatch['ostree-ts'],
  );
  if (same) same.runs.push(run);
  else mismatches.push({ ...mismatch, runs: [run] });
}

function checksumMismatch(treeName, op, results) {
  const [a, b] = Object.entries(results);
  if (a[1].error || b[1].error) return null;
  if (a[1].checksum === b[1].checksum && /^[0-9a-f]{64}$/.test(a[1].checksum)) return null;
  return { tree: treeName, operation: op.name, [a[0]]: a[1].checksum, [b[0]]: b[1].checksum };
}

// ---------------------------------------------------------------------------
// Summaries and output

function median(values) {
  const v = values.filter((x) => typeof x === 'number').sort((x, y) => x - y);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function ratio(ours, theirs) {
  return ours == null || theirs == null || theirs === 0 ? null : ours / theirs;
}

function summarize(name, record, tools) {
  const [theirs, ours] = tools.map((t) => {
    const r = record[t.name];
    return {
      tool: t.name,
      wallS: median(r.samples.map((s) => s.wallS)),
      rssKB: median(r.samples.map((s) => s.rssKB)),
      deltaBytes: median(r.samples.map((s) => s.deltaBytes)),
      deltaFiles: median(r.samples.map((s) => s.deltaFiles)),
      nodeStartupS: median(r.samples.map((s) => s.nodeStartupS)),
      transfer: medianTransfer(r.samples.map((s) => s.transfer).filter(Boolean)),
      samples: r.samples,
      failures: r.failures,
      unavailable: r.unavailable,
    };
  });
  const summary = {
    name,
    ostree: theirs,
    ostreeTs: ours,
    wallRatio: ratio(ours.wallS, theirs.wallS),
    rssRatio: ratio(ours.rssKB, theirs.rssKB),
  };
  if (theirs.deltaBytes != null || ours.deltaBytes != null) summary.deltaSizeRatio = ratio(ours.deltaBytes, theirs.deltaBytes);
  if (theirs.transfer || ours.transfer) summary.transferRatio = ratio(ours.transfer?.bytes, theirs.transfer?.bytes);
  return summary;
}

/** Median bytes and requests of a pull's transfers, overall and for each kind of path. */
function medianTransfer(transfers) {
  if (!transfers.length) return null;
  const kinds = [...new Set(transfers.flatMap((t) => Object.keys(t.byKind)))].sort();
  const of = (pick) => median(transfers.map(pick)) ?? 0;
  return {
    requests: of((t) => t.requests),
    bytes: of((t) => t.bytes),
    failed: of((t) => t.failed),
    byKind: Object.fromEntries(kinds.map((k) => [k, {
      requests: of((t) => t.byKind[k]?.requests ?? 0),
      bytes: of((t) => t.byKind[k]?.bytes ?? 0),
    }])),
  };
}

/**
 * For tar commits whose directory commit (`versus`) was also measured: the
 * ratio tar / directory of each tool's median wall time.
 */
function addVersus(operations) {
  const byName = new Map(operations.map((op) => [op.name, op]));
  for (const op of operations) {
    const dirOp = byName.get(OPERATIONS.find((o) => o.name === op.name).versus);
    if (!dirOp) continue;
    op.versus = {
      operation: dirOp.name,
      ostree: ratio(op.ostree.wallS, dirOp.ostree.wallS),
      ostreeTs: ratio(op.ostreeTs.wallS, dirOp.ostreeTs.wallS),
    };
  }
}

function formatVersus(trees) {
  const fmt = (x) => (x == null ? 'FAIL' : x.toFixed(2));
  const lines = trees.flatMap((t) =>
    t.operations
      .filter((op) => op.versus)
      .map((op) => `${t.name} ${op.name} / ${op.versus.operation}: ostree ${fmt(op.versus.ostree)}, ostree-ts ${fmt(op.versus.ostreeTs)}`),
  );
  return lines.length ? ['', 'tar / directory (wall time, same tool):', ...lines.map((l) => `  ${l}`)].join('\n') : '';
}

const int = (n) => Math.round(n).toLocaleString('en-US');

/** What a pull fetched: static-delta parts, loose objects, or both. */
function fetchedWhat(t) {
  const deltas = t.byKind.deltas?.requests ?? 0;
  const objects = t.byKind.objects?.requests ?? 0;
  const what = deltas && objects ? 'delta parts and loose objects' : deltas ? 'delta parts' : objects ? 'loose objects' : 'no content';
  const part = (k) => (t.byKind[k] ? `${k}/ ${int(t.byKind[k].requests)} requests ${int(t.byKind[k].bytes)} bytes` : `${k}/ none`);
  return `${what} (${part('deltas')}; ${part('objects')})`;
}

/** One tool's figure for the size lines, or "failed: ..." with its first failure. */
function sizeFigure(r, figure) {
  if (figure != null) return `${r.tool} ${figure}`;
  return `${r.tool}: failed: ${r.failures[0] ?? 'not run'}`;
}

/**
 * Lines for the delta sizes (delta-generate) and the bytes nginx served
 * during each pull, with ratios ostree-ts / ostree, and the tree updates.
 */
function formatSizes(trees) {
  const fmt = (x) => (x == null ? 'FAIL' : x.toFixed(2));
  const updates = [];
  const deltas = [];
  const pulls = [];
  for (const t of trees) {
    if (t.update) {
      const d = t.update.diff;
      const mib = (n) => (n / 2 ** 20).toFixed(1);
      updates.push(
        `${t.name} -> ${t.update.name}: ${int(d.addedFiles)} files added (${mib(d.addedBytes)} MiB), ` +
          `${int(d.changedFiles)} changed (${mib(d.changedBytes)} MiB new content), ${int(d.removedFiles)} removed; ` +
          `commits ${t.update.a.slice(0, 12)} -> ${t.update.b.slice(0, 12)}`,
      );
    }
    for (const op of t.operations) {
      if ('deltaSizeRatio' in op) {
        const fig = (r) => sizeFigure(r, r.deltaBytes == null ? null : `${int(r.deltaBytes)} bytes in ${int(r.deltaFiles)} files`);
        deltas.push(`${t.name} ${op.name}: ${fig(op.ostree)}, ${fig(op.ostreeTs)}; size ratio ${fmt(op.deltaSizeRatio)}`);
      }
      if ('transferRatio' in op) {
        const fig = (r) => sizeFigure(r, r.transfer && `${int(r.transfer.bytes)} bytes in ${int(r.transfer.requests)} requests, ${fetchedWhat(r.transfer)}`);
        pulls.push(`${t.name} ${op.name}: ${fig(op.ostree)}; ${fig(op.ostreeTs)}; bytes ratio ${fmt(op.transferRatio)}`);
      }
    }
  }
  const section = (title, lines) => (lines.length ? ['', title, ...lines.map((l) => `  ${l}`)] : []);
  return [
    ...section('updates (regular files compared by content):', updates),
    ...section('static-delta size (files under deltas/):', deltas),
    ...section("pull transfer (response body bytes in nginx's access log):", pulls),
  ].join('\n');
}

function mb(kb) {
  return kb == null ? '?' : (kb / 1024).toFixed(1);
}

function formatTable(trees) {
  const header = ['tree', 'operation', 'ostree s', 'ostree-ts s', 'ratio', 'ostree MB', 'ostree-ts MB', 'ratio'];
  const rows = trees.flatMap((t) =>
    t.operations.map((op) => {
      // A figure is missing because a tool failed, or (skip) does not have the command.
      const none = op.ostree.unavailable || op.ostreeTs.unavailable ? 'skip' : 'FAIL';
      const fmt = (x, digits) => (x == null ? none : x.toFixed(digits));
      // Start-up rows have no peak RSS, and an ostree figure only where ostree has the command.
      const rss = (r) => (r.rssKB === undefined ? '-' : r.rssKB == null ? (r.unavailable ? 'skip' : 'FAIL') : mb(r.rssKB));
      const wall = (r) => (r.wallS === undefined ? '-' : r.wallS == null ? (r.unavailable ? 'skip' : 'FAIL') : r.wallS.toFixed(3));
      return [
        t.name,
        op.name,
        wall(op.ostree),
        wall(op.ostreeTs),
        op.wallRatio === undefined ? '-' : fmt(op.wallRatio, 2),
        rss(op.ostree),
        rss(op.ostreeTs),
        op.rssRatio === undefined ? '-' : fmt(op.rssRatio, 2),
      ];
    }),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * The start-up figures as rows of the main table (tree `startup`): median
 * wall time of each ostree-ts command, beside the real ostree's where the
 * bench times the same thing (see STARTUP_VERSUS); no peak RSS.
 */
function startupRows(result) {
  const byName = new Map(result.rows.map((r) => [r.name, r]));
  const operations = result.rows.filter((r) => r.tool === 'ostree-ts').map((r) => {
    const theirs = byName.get(STARTUP_VERSUS[r.name]);
    const ours = { tool: 'ostree-ts', wallS: r.ms.median / 1000, rssKB: undefined };
    const ostree = { tool: 'ostree', wallS: theirs ? theirs.ms.median / 1000 : undefined, rssKB: undefined };
    return { name: r.name, ostree, ostreeTs: ours, wallRatio: theirs ? ratio(ours.wallS, ostree.wallS) : undefined, rssRatio: undefined };
  });
  return { name: 'startup', operations };
}

function formatStats(name, stats) {
  const mib = (stats.bytes / 2 ** 20).toFixed(0);
  return `${name}: ${stats.files} files, ${stats.dirs} dirs, ${stats.symlinks} symlinks, ${mib} MiB`;
}

function writeResults(report) {
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, JSON.stringify(report, null, 2) + '\n');
}

function failureLines(trees) {
  return trees.flatMap((t) =>
    t.operations.flatMap((op) =>
      [op.ostree, op.ostreeTs].flatMap((r) =>
        [...new Set(r.failures)].map((f) => `FAILED ${t.name} ${op.name} ${r.tool}: ${f}`),
      ),
    ),
  );
}

function skippedLines(trees) {
  return trees.flatMap((t) =>
    t.operations.flatMap((op) =>
      [op.ostree, op.ostreeTs].filter((r) => r.unavailable).map((r) => `SKIPPED ${t.name} ${op.name} ${r.tool}: ${r.unavailable}`),
    ),
  );
}

/**
 * Operations run several times per run (see `repeat`): their median times in
 * milliseconds, and for atomic-status whether ostree-ts meets its target.
 */
function formatRepeated(trees) {
  const lines = [];
  for (const t of trees) {
    for (const op of t.operations) {
      const spec = OPERATIONS.find((o) => o.name === op.name);
      if (!spec.repeat) continue;
      const ms = (r) => (r.wallS == null ? (r.unavailable ? 'skipped' : 'failed') : `${(r.wallS * 1000).toFixed(1)} ms`);
      let line = `${t.name} ${op.name}: ostree ${ms(op.ostree)}, ostree-ts ${ms(op.ostreeTs)}`;
      if (op.name === 'atomic-status' && op.ostreeTs.wallS != null) {
        const met = op.ostreeTs.wallS * 1000 < STATUS_TARGET_MS;
        line += ` (target for ostree-ts: under ${STATUS_TARGET_MS} ms: ${met ? 'met' : 'NOT met'})`;
      }
      if (op.ostreeTs.nodeStartupS != null) {
        line += `; an empty Node.js process (node -e '') meanwhile: ${(op.ostreeTs.nodeStartupS * 1000).toFixed(1)} ms`;
      }
      lines.push(line);
    }
  }
  const title = `repeated operations (median of ${STATUS_REPEAT} invocations per run, then median of the runs):`;
  return lines.length ? ['', title, ...lines.map((l) => `  ${l}`)].join('\n') : '';
}

function mismatchLine(m) {
  const runs = m.runs.length > 1 ? `runs ${m.runs.join(',')}` : `run ${m.runs[0]}`;
  return `MISMATCH ${m.tree} ${m.operation} (${runs}): ostree=${m.ostree} ostree-ts=${m['ostree-ts']}`;
}

// ---------------------------------------------------------------------------
// Served repositories

/**
 * Make the repositories the pull and delta operations start from, with the
 * real ostree (untimed), and start nginx serving them. Returns { serve, stop }
 * where serve = { server, root, sources } goes into every workspace.
 */
async function startServing(ostree, treeName, tree, update, workRoot, log) {
  const dir = fs.mkdtempSync(path.join(workRoot, `sources-${treeName}-`));
  let server = null;
  try {
    const sources = await makeSources(ostree, tree, update, dir, log);
    const root = path.join(dir, 'www');
    fs.mkdirSync(root);
    server = await startNginx(path.join(dir, 'nginx'), root);
    log(`${treeName}: serving at ${server.url}`);
    return {
      serve: { server, root, sources },
      stop: async (keep) => {
        await server.stop();
        if (keep) log(`kept ${dir}`);
        else fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * In `dir`, with ostree: `pull`, an archive repository with commit A of
 * `tree` on branch `bench` and `summary -u`; when there is an update tree,
 * `update`, a copy of it taken before the summary, to which commit B of the
 * update tree is added on the same branch, and `updatePlain`, a copy of
 * `update` with `summary -u`. A is the same commit as commit-archive makes.
 */
async function makeSources(ostree, tree, update, dir, log) {
  const started = performance.now();
  const pull = path.join(dir, 'pull');
  const repoUpdate = path.join(dir, 'update');
  const updatePlain = path.join(dir, 'update-plain');
  const copy = async (from, to) => {
    const res = await runCommand('cp', ['-a', '--reflink=auto', from, to]);
    if (!res.ok) throw new Error(`copying ${from}: ${tail(res.stderr)}`);
  };
  const must = async (repo, args) => {
    const res = await runPlain(ostree, repo, args);
    if (!res.ok) throw new Error(`making the served repositories: ostree ${args.join(' ')} failed (${res.status}): ${tail(res.stderr)}`);
    return lastLine(res.stdout);
  };
  await must(pull, ['init', '--mode=archive']);
  const a = await must(pull, ['commit', '-b', 'bench', `--tree=dir=${tree}`, `--timestamp=${COMMIT_TIMESTAMP}`, '-s', 'bench']);
  let b = null;
  if (update) {
    await copy(pull, repoUpdate);
    b = await must(repoUpdate, [
      'commit', '-b', 'bench', `--tree=dir=${update.dir}`, `--timestamp=${UPDATE_TIMESTAMP}`, '-s', 'bench update',
    ]);
    await copy(repoUpdate, updatePlain);
    await must(updatePlain, ['summary', '-u']);
  }
  await must(pull, ['summary', '-u']);
  log(`made the served repositories in ${((performance.now() - started) / 1000).toFixed(1)} s: A ${a}${b ? `, B ${b} (${update.name})` : ''}`);
  return { pull, update: update ? repoUpdate : null, updatePlain: update ? updatePlain : null, a, b };
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

  const treeOps = opts.ops.filter((n) => n !== STARTUP_OP);
  const trees = [];
  ensureGnuTime(log);
  if (treeOps.length && opts.trees.some((t) => DEBIAN_TREES[t])) ensureCommand('mmdebstrap', 'mmdebstrap', log);
  const tools = resolveTools(REPO_ROOT);
  const root = cacheRoot();
  const workRoot = path.join(root, 'work');
  fs.mkdirSync(workRoot, { recursive: true });
  if (isTmpfs(workRoot)) {
    log(`warning: ${workRoot} is on tmpfs; set OSTREE_TS_BENCH_CACHE to a disk-backed directory`);
  }
  const plan = planOperations(treeOps);
  if (plan.some((op) => op.serve) && !nginxCommand()) {
    throw new Error("the pull and delta operations need nginx; install the Debian package 'nginx' (apt-get install nginx)");
  }
  if (plan.some((op) => op.kernel) && opts.trees.some(isKernelTree)) {
    if (process.getuid?.() !== 0) {
      throw new Error('the deployment operations (admin-deploy, atomic-status) need root: ostree admin deploy writes root-owned deployments');
    }
    requireCommand('chattr', 'e2fsprogs');
  }
  const tarKinds = plan.flatMap((op) => Object.values(op.tarballs ?? {}));
  if (tarKinds.length) tarballCommands(tarKinds).forEach(({ command, pkg }) => requireCommand(command, pkg));

  // Start-up first: it needs a quiet machine, before the trees' builds and servers.
  const startup = opts.ops.includes(STARTUP_OP)
    ? await benchStartup({ runs: Math.max(opts.runs ?? STARTUP_RUNS, 5), log, workRoot, keep: opts.keep })
    : null;
  const mismatches = [];
  for (const name of treeOps.length ? opts.trees : []) {
    const spec = (n) => OPERATIONS.find((op) => op.name === n);
    const noUpdate = treeOps.filter((n) => !hasUpdateTree(name) && spec(n).update);
    const noKernel = treeOps.filter((n) => !isKernelTree(name) && spec(n).kernel);
    if (noUpdate.length) log(`${name}: no update tree; skipping ${noUpdate.join(', ')}`);
    if (noKernel.length) log(`${name}: not an OS tree with a kernel (use minbase-kernel); skipping ${noKernel.join(', ')}`);
    const selected = treeOps.filter((n) => !noUpdate.includes(n) && !noKernel.includes(n));
    if (!selected.length) continue;
    const treePlan = planOperations(selected);
    // The update tree first: making it may rebuild the tree (same package snapshot).
    const update = treePlan.some((op) => op.update) ? ensureUpdateTree(root, name, REPO_ROOT, log) : null;
    const dir = ensureTree(root, name, REPO_ROOT, log);
    const stats = scanTree(dir); // also warms the page cache for both tools
    log(formatStats(name, stats));
    const tars = tarKinds.length ? ensureTarballs(root, dir, tarKinds, stats.changedMs, log) : {};
    warmFiles(Object.values(tars));
    const runs = opts.runs ?? (LARGE_TREES.has(name) ? 1 : 3);
    const serving = treePlan.some((op) => op.serve)
      ? await startServing(tools[0], name, dir, update, workRoot, log)
      : null;
    let result;
    try {
      result = await benchTree({
        treeName: name, inputs: { tree: dir, tars, serve: serving?.serve }, tools, plan: treePlan, selected, runs,
        workRoot, keep: opts.keep, log,
      });
    } finally {
      await serving?.stop(opts.keep);
    }
    const entry = { name, dir, tars, stats, runs, operations: result.operations };
    if (update) {
      const diff = diffTrees(dir, update.dir);
      entry.update = { name: update.name, dir: update.dir, diff, a: serving.serve.sources.a, b: serving.serve.sources.b };
    }
    trees.push(entry);
    mismatches.push(...result.mismatches);
  }

  const failures = [...failureLines(trees), ...(startup?.failures.map((f) => `FAILED start-up ${f}`) ?? [])];
  const skipped = skippedLines(trees);
  console.log();
  console.log(formatTable(startup ? [startupRows(startup), ...trees] : trees));
  const versus = formatVersus(trees);
  if (versus) console.log(versus);
  if (startup) console.log(`\n${formatStartup({ ...startup, failures: [] })}`);
  const repeated = formatRepeated(trees);
  if (repeated) console.log(repeated);
  const sizes = formatSizes(trees);
  if (sizes) console.log(sizes);
  for (const m of mismatches) console.log(mismatchLine(m));
  for (const f of failures) console.log(f);
  for (const line of skipped) console.log(line);
  console.log(`\n(ratio = ostree-ts / ostree; median of the runs; results in ${path.relative(process.cwd(), RESULTS_FILE)})`);

  writeResults({
    generatedAt: new Date().toISOString(),
    host: hostInfo(),
    tools: {
      ostree: { command: tools[0].argv.join(' '), version: ostreeVersion(tools[0]) },
      ostreeTs: { command: tools[1].argv.join(' ') },
    },
    cacheRoot: root,
    options: { trees: opts.trees, ops: opts.ops, runs: opts.runs },
    trees,
    startup,
    mismatches,
    failures,
    skipped,
  });
  if (mismatches.length || failures.length) process.exitCode = 1;
  if (opts.compose) {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bench', 'compose.mjs'), `--runs=${opts.runs ?? 5}`], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exitCode = 2;
});
