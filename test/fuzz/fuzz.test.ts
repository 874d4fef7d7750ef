/**
 * Issue 14, acceptance 4: every parser of untrusted or torn bytes, fuzzed.
 * Under `npm test` each target runs 20,000 inputs; `npm run fuzz` runs
 * 1,000,000 each. Settings, all optional:
 *   FUZZ_RUNS=N        inputs per target
 *   FUZZ_SEED=N        replay a run (every run prints its seed)
 *   FUZZ_TARGETS=a,b   only these targets
 *   FUZZ_PATH=P        with FUZZ_SEED and one target: replay one failure as fast-check reported it
 *   FUZZ_JOBS=N        targets fuzzed at once (default 1; CPU is shared)
 * A failing input is written to the temporary directory; add it under
 * test/fuzz/regressions/TARGET/ and regressions.test.ts replays it on every run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TARGETS } from './targets.js';
import { keepInput, runInWorker } from './runner.js';

const runs = Number(process.env.FUZZ_RUNS ?? 20_000);
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
const only = process.env.FUZZ_TARGETS ? process.env.FUZZ_TARGETS.split(',').map((s) => s.trim()) : null;
const jobs = Math.max(1, Number(process.env.FUZZ_JOBS ?? 1));
const replayPath = process.env.FUZZ_PATH;

if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS=${process.env.FUZZ_RUNS} is not a positive integer.`);
if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED=${process.env.FUZZ_SEED} is not an integer.`);
for (const name of only ?? []) if (!TARGETS.some((t) => t.name === name)) throw new Error(`FUZZ_TARGETS names '${name}'; known: ${TARGETS.map((t) => t.name).join(', ')}.`);

const chosen = TARGETS.filter((t) => !only || only.includes(t.name));
console.log(`fuzz: seed ${seed}, ${runs} inputs per target, ${chosen.length} targets (replay with FUZZ_SEED=${seed})`);

describe('fuzz', { concurrency: jobs }, () => {
  for (const target of chosen) {
    test(`${target.name}: ${target.parses}`, async () => {
      const r = await runInWorker(target.name, {
        runs, seed, path: replayPath, progressMs: 30_000,
        onProgress: (n) => console.log(`fuzz ${target.name}: ${n} inputs so far`),
      });
      const rate = r.runs / (r.ms / 1000);
      const results = Object.entries(r.results).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`fuzz ${target.name}: ${r.runs} inputs in ${(r.ms / 1000).toFixed(1)} s (${rate.toFixed(0)}/s), slowest ${r.slowestMs.toFixed(1)} ms (${r.slowestLength} bytes), most memory held ${(r.peakMemory / 2 ** 20).toFixed(1)} MiB; ${results}`);
      if (r.failed) {
        const file = await keepInput(r);
        assert.fail(`${r.kind}: ${r.error}\ninput: ${file ?? '(none)'}\nreplay: FUZZ_SEED=${r.seed} FUZZ_TARGETS=${target.name}${r.path ? ` FUZZ_PATH=${r.path}` : ''} npm run fuzz`);
      }
      assert.ok(r.runs >= runs, `${target.name} ran ${r.runs} inputs, fewer than ${runs}`);
    });
  }
});
