#!/usr/bin/env node
// zstd library benchmark: compresses and decompresses an uncompressed tar of
// the Debian minbase root filesystem with each candidate npm package and
// reports wall time, throughput, compressed size and peak RSS.
//
//   node bench/zstd/run.mjs [--runs=3] [--candidates=zstd-codec,zstd-napi]
//                           [--no-level19] [--level19-timeout=60]
//
// Candidates are installed into a cache directory outside the repository
// (never into the project's node_modules) and loaded from there with
// createRequire. Every measurement runs in its own child process so that peak
// RSS belongs to one operation of one library.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const HERE = path.dirname(SELF);
const REPO_ROOT = path.resolve(HERE, '..', '..');
const MB = 1e6; // throughput and sizes in decimal megabytes
const CHUNK = 1 << 20; // read size for the input streams
const TIMED_OUT_STATUS = 124;

/**
 * Candidate libraries. Each adapter loads the package from `req` (a require
 * bound to the cache prefix) and returns Transform factories. `streaming`
 * says whether the library has a real streaming API; a whole-buffer library
 * would be wrapped and reported as such.
 */
const CANDIDATES = {
  'zstd-codec': {
    pkg: 'zstd-codec',
    kind: 'pure JS (emscripten WebAssembly)',
    streaming: true,
    api: 'lib/zstd-stream.js ZstdCompressTransform / ZstdDecompressTransform',
    async load(req) {
      const mod = req('zstd-codec/lib/zstd-stream.js');
      const streams = await new Promise((resolve) => mod.run(resolve));
      return {
        compress: (level) => new streams.ZstdCompressTransform(level),
        decompress: () => new streams.ZstdDecompressTransform(),
      };
    },
  },
  'zstd-napi': {
    pkg: 'zstd-napi',
    kind: 'native N-API binding (bundled libzstd, built with node-gyp)',
    streaming: true,
    api: 'CompressStream / DecompressStream',
    async load(req) {
      const z = req('zstd-napi');
      return {
        compress: (level) => new z.CompressStream({ compressionLevel: level }),
        decompress: () => new z.DecompressStream(),
      };
    },
  },
};

// ---------------------------------------------------------------------------
// Child mode: one measurement, result as JSON on stdout.

async function child(spec) {
  const loadStart = performance.now();
  let lib = null;
  if (spec.op !== 'copy') {
    const req = createRequire(path.join(spec.prefix, 'package.json'));
    lib = await CANDIDATES[spec.candidate].load(req);
  }
  const loadMs = performance.now() - loadStart;

  // The child enforces its own time limit: killing /usr/bin/time from the
  // parent would leave this process running and skew later measurements.
  if (spec.timeoutSec) {
    setTimeout(() => {
      process.stdout.write(JSON.stringify({ timedOut: true }) + '\n');
      process.exit(TIMED_OUT_STATUS);
    }, spec.timeoutSec * 1000).unref();
  }
  const transform =
    spec.op === 'compress' ? lib.compress(spec.level) : spec.op === 'decompress' ? lib.decompress() : new PassThrough();
  const started = performance.now();
  await pipeline(
    fs.createReadStream(spec.input, { highWaterMark: CHUNK }),
    transform,
    fs.createWriteStream(spec.output),
  );
  const ms = performance.now() - started;
  const out = {
    ms,
    loadMs,
    outBytes: fs.statSync(spec.output).size,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------------------
// Parent mode.

function parseArgs(argv) {
  const opts = { runs: 3, candidates: Object.keys(CANDIDATES), level19: true, level19Timeout: 60 };
  for (const arg of argv) {
    const [k, v] = arg.replace(/^--/, '').split('=');
    if (k === 'runs') opts.runs = Math.max(1, Number(v));
    else if (k === 'candidates') opts.candidates = v.split(',').filter(Boolean);
    else if (k === 'no-level19') opts.level19 = false;
    else if (k === 'level19-timeout') opts.level19Timeout = Number(v);
    else if (k === 'help' || k === 'h') {
      console.log('usage: node bench/zstd/run.mjs [--runs=N] [--candidates=a,b] [--no-level19] [--level19-timeout=S]');
      console.log(`candidates: ${Object.keys(CANDIDATES).join(', ')}`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  for (const c of opts.candidates) {
    if (!CANDIDATES[c]) throw new Error(`unknown candidate '${c}' (known: ${Object.keys(CANDIDATES).join(', ')})`);
  }
  return opts;
}

function cacheRoot(env = process.env) {
  if (env.OSTREE_TS_BENCH_CACHE) return path.resolve(env.OSTREE_TS_BENCH_CACHE);
  const xdg = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'ostree-ts-bench');
}

const log = (msg) => process.stderr.write(`[zstd-bench] ${msg}\n`);
const oneLine = (s) => String(s).split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ').slice(0, 400);

/** Install each candidate into `prefix` unless it already loads from there. */
function ensureInstalled(prefix, names) {
  fs.mkdirSync(prefix, { recursive: true });
  if (!fs.existsSync(path.join(prefix, 'package.json'))) {
    fs.writeFileSync(path.join(prefix, 'package.json'), '{ "private": true }\n');
  }
  const req = createRequire(path.join(prefix, 'package.json'));
  const status = {};
  for (const name of names) {
    const pkg = CANDIDATES[name].pkg;
    const loads = () => {
      try {
        req(pkg);
        return null;
      } catch (err) {
        return err;
      }
    };
    if (loads() === null) {
      status[name] = { installed: true, version: pkgVersion(prefix, pkg) };
      continue;
    }
    log(`installing ${pkg} into ${prefix}`);
    const started = performance.now();
    const res = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', prefix, pkg], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const err = res.error ? res.error.message : res.status !== 0 ? oneLine(res.stderr || res.stdout) : null;
    const loadErr = err ? null : loads();
    if (err || loadErr) {
      const msg = err || oneLine(loadErr.message);
      log(`  ${pkg} failed after ${secs} s: ${msg}`);
      status[name] = { installed: false, error: msg };
    } else {
      log(`  ${pkg} installed in ${secs} s`);
      status[name] = { installed: true, version: pkgVersion(prefix, pkg), installSeconds: Number(secs) };
    }
  }
  return status;
}

function pkgVersion(prefix, pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(prefix, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Uncompressed tar of the minbase tree, built once. */
function ensureTar(cache) {
  const tar = path.join(cache, 'minbase.tar');
  if (fs.existsSync(tar)) return tar;
  const tree = path.join(cache, 'trees', 'minbase');
  if (!fs.existsSync(tree)) {
    throw new Error(`${tree} is missing; build it with fixtures/make-minbase.sh ${tree} (or run bench/run.mjs --trees=minbase once)`);
  }
  log(`creating ${tar} from ${tree}`);
  const tmp = `${tar}.tmp-${process.pid}`;
  const res = spawnSync('tar', ['-C', tree, '-cf', tmp, '.'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw res.error;
  // GNU tar exits 1 when some files changed while being read; the archive is still usable.
  if (res.status !== 0 && res.status !== 1) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`tar failed with status ${res.status}`);
  }
  fs.renameSync(tmp, tar);
  return tar;
}

async function sha256File(file) {
  const h = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: CHUNK }), h);
  return h.digest('hex');
}

function hasGnuTime() {
  return fs.existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;
}

/** Run one measurement in a child process; returns the child's figures plus peak RSS. */
function measure(spec, { timeoutSec, gnuTime, workDir }) {
  const rssFile = path.join(workDir, `rss-${process.pid}.txt`);
  const nodeArgs = [SELF, '--child', JSON.stringify({ ...spec, timeoutSec })];
  const [cmd, args] = gnuTime
    ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const wallStart = performance.now();
  const res = spawnSync(cmd, args, {
    encoding: 'utf8',
    // Last resort only; the child normally stops itself after timeoutSec.
    timeout: timeoutSec ? (timeoutSec + 60) * 1000 : undefined,
    killSignal: 'SIGKILL',
    maxBuffer: 16 << 20,
  });
  const processMs = performance.now() - wallStart;
  const rssText = gnuTime && fs.existsSync(rssFile) ? fs.readFileSync(rssFile, 'utf8') : '';
  fs.rmSync(rssFile, { force: true });
  if ((res.error && res.error.code === 'ETIMEDOUT') || res.status === TIMED_OUT_STATUS) {
    fs.rmSync(spec.output, { force: true });
    return { timedOut: true };
  }
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${spec.candidate} ${spec.op} failed: ${oneLine(res.stderr)}`);
  const out = JSON.parse(res.stdout.trim().split('\n').pop());
  out.processMs = processMs;
  if (gnuTime) {
    const kib = Number(rssText.trim().split('\n').pop());
    if (Number.isFinite(kib) && kib > 0) out.maxRssKiB = kib;
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function summarize(runs, inputBytes) {
  const ms = median(runs.map((r) => r.ms));
  return {
    runs: runs.length,
    medianSeconds: round(ms / 1000, 3),
    allSeconds: runs.map((r) => round(r.ms / 1000, 3)),
    mbPerSec: round(inputBytes / MB / (ms / 1000), 1),
    peakRssMiB: round(Math.max(...runs.map((r) => r.maxRssKiB)) / 1024, 1),
    loadSeconds: round(median(runs.map((r) => r.loadMs)) / 1000, 3),
  };
}

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const cache = cacheRoot();
  const prefix = path.join(cache, 'zstd-candidates');
  const workDir = path.join(cache, 'work', 'zstd');
  fs.mkdirSync(workDir, { recursive: true });

  const install = ensureInstalled(prefix, opts.candidates);
  const tar = ensureTar(cache);
  const inputBytes = fs.statSync(tar).size;
  log(`input ${tar}: ${(inputBytes / MB).toFixed(1)} MB`);
  const inputHash = await sha256File(tar); // also warms the page cache
  const gnuTime = hasGnuTime();
  if (!gnuTime) log('GNU time not found; peak RSS comes from process.resourceUsage() in the child');

  // Baseline: the same read -> Transform -> write pipeline with a PassThrough,
  // i.e. the stream and file I/O cost that every candidate pays as well.
  const copyRuns = [];
  for (let i = 0; i < opts.runs; i++) {
    log(`baseline: copy, run ${i + 1}/${opts.runs}`);
    const out = path.join(workDir, 'copy.tar');
    copyRuns.push(measure({ candidate: null, prefix, op: 'copy', input: tar, output: out }, { gnuTime, workDir }));
    fs.rmSync(out, { force: true });
  }
  const baseline = summarize(copyRuns, inputBytes);

  const results = {};
  for (const name of opts.candidates) {
    const cand = CANDIDATES[name];
    const entry = { package: cand.pkg, kind: cand.kind, streaming: cand.streaming, api: cand.api, ...install[name] };
    results[name] = entry;
    if (!install[name].installed) continue;
    const zst = path.join(workDir, `${name}.tar.zst`);
    const back = path.join(workDir, `${name}.tar`);
    const base = { candidate: name, prefix };
    try {
      // Level 3: compress and decompress, median of `runs`.
      const comp = [];
      for (let i = 0; i < opts.runs; i++) {
        log(`${name}: compress level 3, run ${i + 1}/${opts.runs}`);
        comp.push(measure({ ...base, op: 'compress', level: 3, input: tar, output: zst }, { gnuTime, workDir }));
      }
      const compressedBytes = fs.statSync(zst).size;
      const dec = [];
      let roundTrip = null;
      for (let i = 0; i < opts.runs; i++) {
        log(`${name}: decompress, run ${i + 1}/${opts.runs}`);
        dec.push(measure({ ...base, op: 'decompress', input: zst, output: back }, { gnuTime, workDir }));
        if (i === 0) roundTrip = (await sha256File(back)) === inputHash;
      }
      fs.rmSync(back, { force: true });
      entry.level3 = {
        compressedBytes,
        ratio: round(inputBytes / compressedBytes, 3),
        compress: summarize(comp, inputBytes),
        decompress: summarize(dec, inputBytes),
        roundTripOk: roundTrip,
      };
      fs.rmSync(zst, { force: true });

      // Level 19: one run, for size only, abandoned after the timeout.
      if (opts.level19) {
        log(`${name}: compress level 19 (one run, at most ${opts.level19Timeout} s)`);
        let r;
        try {
          r = measure(
            { ...base, op: 'compress', level: 19, input: tar, output: zst },
            { gnuTime, workDir, timeoutSec: opts.level19Timeout },
          );
        } catch (err) {
          r = { failed: oneLine(err.message) };
        }
        if (r.failed) {
          entry.level19 = { failed: r.failed };
          log(`${name}: level 19 failed: ${r.failed}`);
        } else if (r.timedOut) {
          entry.level19 = { skipped: `took longer than ${opts.level19Timeout} s` };
        } else {
          const bytes = fs.statSync(zst).size;
          entry.level19 = {
            compressedBytes: bytes,
            ratio: round(inputBytes / bytes, 3),
            seconds: round(r.ms / 1000, 3),
            mbPerSec: round(inputBytes / MB / (r.ms / 1000), 1),
            peakRssMiB: round(r.maxRssKiB / 1024, 1),
          };
        }
        fs.rmSync(zst, { force: true });
      }
    } catch (err) {
      entry.error = oneLine(err.message);
      log(`${name}: ${entry.error}`);
      fs.rmSync(zst, { force: true });
      fs.rmSync(back, { force: true });
    }
  }

  const report = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    input: { file: 'minbase.tar', bytes: inputBytes, sha256: inputHash },
    runsPerMeasurement: opts.runs,
    peakRssSource: gnuTime ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS',
    baseline: { op: 'copy through PassThrough', ...baseline },
    nodeBuiltinZstd: typeof (await import('node:zlib')).createZstdCompress === 'function',
    candidates: results,
  };
  printTable(report);
  const outDir = path.join(HERE, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  log(`wrote ${path.relative(REPO_ROOT, path.join(outDir, 'latest.json'))}`);
}

function printTable(report) {
  const rows = [['library', 'version', 'op', 'level', 'median s', 'MB/s', 'ratio', 'peak RSS MiB', 'round trip']];
  for (const [name, c] of Object.entries(report.candidates)) {
    if (!c.installed) {
      rows.push([name, '-', 'install failed', '', '', '', '', '', '']);
      continue;
    }
    if (c.error && !c.level3) {
      rows.push([name, c.version, 'error', '', '', '', '', '', '']);
      continue;
    }
    const l3 = c.level3;
    rows.push([name, c.version, 'compress', '3', l3.compress.medianSeconds.toFixed(2), l3.compress.mbPerSec.toFixed(1),
      l3.ratio.toFixed(2), l3.compress.peakRssMiB.toFixed(1), '']);
    rows.push([name, c.version, 'decompress', '', l3.decompress.medianSeconds.toFixed(2), l3.decompress.mbPerSec.toFixed(1),
      '', l3.decompress.peakRssMiB.toFixed(1), l3.roundTripOk ? 'ok' : 'MISMATCH']);
    if (c.level19?.skipped) rows.push([name, c.version, 'compress', '19', 'skipped', '', '', '', '']);
    else if (c.level19?.failed) rows.push([name, c.version, 'compress', '19', 'failed', '', '', '', '']);
    else if (c.level19) {
      rows.push([name, c.version, 'compress', '19', c.level19.seconds.toFixed(2), c.level19.mbPerSec.toFixed(1),
        c.level19.ratio.toFixed(2), c.level19.peakRssMiB.toFixed(1), '']);
    }
  }
  const b = report.baseline;
  rows.push(['(baseline)', '', 'copy', '', b.medianSeconds.toFixed(2), b.mbPerSec.toFixed(1), '', b.peakRssMiB.toFixed(1), '']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  console.log(`input: minbase.tar, ${(report.input.bytes / MB).toFixed(1)} MB; ${report.cpus} CPUs; node ${report.node}; ` +
    `median of ${report.runsPerMeasurement} runs (level 19: one run)`);
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, j) => (j < 4 ? String(cell).padEnd(widths[j]) : String(cell).padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const [name, c] of Object.entries(report.candidates)) {
    if (c.level19?.failed) console.log(`${name}: level 19: ${c.level19.failed}`);
    if (c.level19?.skipped) console.log(`${name}: level 19 skipped: ${c.level19.skipped}`);
    if (!c.installed) console.log(`${name}: install failed: ${c.error}`);
    else if (c.error) console.log(`${name}: ${c.error}`);
  }
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).catch((err) => {
    console.error(err?.stack || err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err?.stack || err);
    process.exit(1);
  });
}
