#!/usr/bin/env node
// What a compose costs beyond its commit: recipes/debian-bookworm-minimal.yaml
// composed with its mmdebstrap output cached, against `ostree-ts commit` and
// the real `ostree commit` of the very tree it commits, each into an empty
// archive repository, in interleaved runs. See bench/README.md.
//
//   npm run build && node bench/compose.mjs [--runs=5] [--recipe=FILE]
//
// Root only (mmdebstrap, and owners kept in the tree). The first run builds
// the mmdebstrap output (minutes) into the compose cache under the bench cache.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ensureGnuTime, requireCommand, resolveTools, runCommand, runPlain, runTimedArgv } from './measure.mjs';
import { cacheRoot, scanTree } from './trees.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    recipe: { type: 'string', default: path.join(ROOT, 'recipes', 'debian-bookworm-minimal.yaml') },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, not '${values.runs}'`);
if (process.getuid?.() !== 0) {
  console.error('bench/compose.mjs runs as root only: mmdebstrap, and the owners of the Debian tree.');
  process.exit(2);
}
requireCommand('mmdebstrap', 'mmdebstrap');
ensureGnuTime(console.log);
const [ostree, ours] = resolveTools(ROOT);

const cache = path.join(cacheRoot(), 'compose');
fs.mkdirSync(cacheRoot(), { recursive: true });
const work = fs.mkdtempSync(path.join(cacheRoot(), 'compose-run-'));
const log = (m) => console.log(m);
const fail = (what, res) => {
  throw new Error(`${what} failed (${res.status}):\n${(res.stderr || res.stdout || '').trim().split('\n').slice(-10).join('\n')}`);
};

const composeArgv = (repo) => [...ours.argv, 'compose', values.recipe, `--repo=${repo}`, `--cache-dir=${cache}`];
/** The root tree and dirmeta of a commit: the last two byte arrays of `show --raw`. */
async function rootOf(repo, rev) {
  const res = await runPlain(ostree, repo, ['show', '--raw', rev]);
  if (!res.ok) fail(`ostree show ${rev}`, res);
  const arrays = [...res.stdout.matchAll(/\[byte ([^\]]+)\]/g)].map((m) => m[1]);
  return arrays.slice(-2).join(' / ');
}
async function freshRepo(name) {
  const repo = path.join(work, name);
  fs.rmSync(repo, { recursive: true, force: true });
  const res = await runPlain(ostree, repo, ['init', '--mode=archive']);
  if (!res.ok) fail('ostree init', res);
  return repo;
}

// Untimed: compose once (mmdebstrap on the first run ever), then check the
// composed commit out: that tree is what the two commits are given.
log(`recipe ${path.relative(ROOT, values.recipe)}; compose cache ${cache}`);
const first = await freshRepo('first');
let res = await runCommand(composeArgv(first)[0], composeArgv(first).slice(1));
if (!res.ok) fail('the first compose', res);
const ref = /^(\S+) -> [0-9a-f]{64}/m.exec(res.stdout)?.[1];
if (!ref) throw new Error(`no ref in the compose output:\n${res.stdout}`);
const tree = path.join(work, 'tree');
res = await runPlain(ours, first, ['checkout', ref, tree]);
if (!res.ok) fail('checkout of the composed commit', res);
const want = await rootOf(first, ref);
const { files } = scanTree(tree); // counts, and reads every file once (warm cache)
const timestamp = /^timestamp:\s*(\S+)/m.exec(fs.readFileSync(values.recipe, 'utf8'))?.[1] ?? '@1700000000';
log(`tree: ${files} files; ${runs} interleaved runs (order rotated each run)`);

const cases = [
  { name: 'ostree-ts compose', argv: (repo) => composeArgv(repo) },
  { name: 'ostree-ts commit', argv: (repo) => [...ours.argv, `--repo=${repo}`, 'commit', '-b', ref, `--tree=dir=${tree}`, `--timestamp=${timestamp}`, '-s', 'bench'] },
  { name: 'ostree commit', argv: (repo) => [...ostree.argv, `--repo=${repo}`, 'commit', '-b', ref, `--tree=dir=${tree}`, `--timestamp=${timestamp}`, '-s', 'bench'] },
];
const samples = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < runs; i++) {
  const order = cases.map((_, k) => cases[(k + i) % cases.length]);
  for (const c of order) {
    const repo = await freshRepo(`repo-${c.name.replace(/\W+/g, '-')}`);
    const r = await runTimedArgv(c.argv(repo), work);
    if (!r.ok) fail(c.name, r);
    // Untimed: the staged tree a compose leaves to be removed in the background is gone before the next command.
    for (let w = 0; w < 600 && fs.readdirSync(path.join(repo, 'tmp')).some((n) => n.startsWith('discarded-compose-')); w++) await new Promise((res) => setTimeout(res, 50));
    const got = await rootOf(repo, ref);
    if (got !== want) throw new Error(`${c.name} committed another tree than the compose did`);
    samples.get(c.name).push({ wallS: r.wallS, rssKB: r.rssKB });
    log(`  run ${i + 1}: ${c.name.padEnd(18)} ${r.wallS.toFixed(2)} s, ${Math.round(r.rssKB / 1024)} MB`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = Object.fromEntries([...samples].map(([name, xs]) => {
  const w = xs.map((x) => x.wallS);
  return [name, { median: median(w), min: Math.min(...w), max: Math.max(...w), peakMB: Math.max(...xs.map((x) => x.rssKB)) / 1024 }];
}));
/** Ratios per run (compose / the other, same run), then their median, min and max. */
const ratio = (other) => {
  const rs = samples.get('ostree-ts compose').map((x, k) => x.wallS / samples.get(other)[k].wallS);
  return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
};
const result = {
  recipe: path.relative(ROOT, values.recipe), files, runs, stats,
  composeVsOursCommit: ratio('ostree-ts commit'), composeVsOstreeCommit: ratio('ostree commit'),
};
console.log('\n| command | median s | min | max | peak MB |\n|---|---:|---:|---:|---:|');
for (const [name, s] of Object.entries(stats)) console.log(`| ${name} | ${s.median.toFixed(2)} | ${s.min.toFixed(2)} | ${s.max.toFixed(2)} | ${s.peakMB.toFixed(0)} |`);
const fmt = (r) => `${r.median.toFixed(2)} (min ${r.min.toFixed(2)}, max ${r.max.toFixed(2)})`;
console.log(`\ncompose / ostree-ts commit: ${fmt(result.composeVsOursCommit)}   target <= 1.1`);
console.log(`compose / ostree commit:    ${fmt(result.composeVsOstreeCommit)}   target <= 0.8`);
fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'compose.json'), `${JSON.stringify(result, null, 2)}\n`);
if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
