/**
 * Every input the fuzzer found, replayed on every run: test/fuzz/regressions/
 * TARGET/NAME.RESULT.bin holds the bytes, RESULT says what the parser must do
 * with them now ('ok', or the code of the error it must throw), and the input
 * must still pass the fuzzing property (coded, named, fast, small).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT } from '../helpers/env.js';
import { checkAsync, checkSync } from './harness.js';
import { TARGETS, targetByName } from './targets.js';

const DIR = path.join(ROOT, 'test', 'fuzz', 'regressions');

test('every regression folder is a fuzz target', async () => {
  const dirs = (await readdir(DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const d of dirs) assert.ok(TARGETS.some((t) => t.name === d), `test/fuzz/regressions/${d} names no fuzz target`);
  assert.ok(dirs.length > 0);
});

for (const dir of await readdir(DIR, { withFileTypes: true })) {
  if (!dir.isDirectory()) continue;
  test(`regressions of ${dir.name}`, async () => {
    const target = targetByName(dir.name);
    const files = (await readdir(path.join(DIR, dir.name))).filter((f) => f.endsWith('.bin')).sort();
    assert.ok(files.length > 0, `no fixtures in ${dir.name}`);
    for (const f of files) {
      const m = /^[a-z0-9-]+\.(ok|E_[A-Z_]+)\.bin$/.exec(f);
      assert.ok(m, `fixture name ${f} is not NAME.RESULT.bin`);
      const input = await readFile(path.join(DIR, dir.name, f));
      const outcome = target.async ? await checkAsync(target, input) : checkSync(target, input);
      assert.equal(outcome.result, m[1], `${dir.name}/${f}`);
    }
  });
}
