/** The probation record: missing is empty, written whole, read back; damage is named; an invalid change is refused before it is written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../../src/errors/index.js';
import { ASSESSMENT_FILE, deploymentKey, parseAssessment, readAssessment, updateAssessment, type AssessmentRecord } from '../../src/sysroot/index.js';
import { tempDir } from '../helpers/env.js';

const CSUM = 'a'.repeat(64);

test('readAssessment: no file is an empty record; updateAssessment writes it whole and reads back what it wrote', async (t) => {
  const root = await tempDir(t);
  assert.deepEqual(await readAssessment(root), { version: 1, deployments: {}, quarantine: [] });
  const key = deploymentKey({ osname: 'os', csum: CSUM, deployserial: 0 });
  assert.equal(key, `os/${CSUM}.0`);
  const written = await updateAssessment(root, (r) => {
    r.deployments[key] = {
      state: 'failed', tries: 3, reason: 'required check 10-net failed', since: '2026-01-02T03:04:05Z',
      checks: [{ name: '10-net', class: 'required', result: 'fail', seconds: 1.5, output: 'no route\n' }],
      attempts: [{ at: '2026-01-02T03:04:05Z', verdict: 'fail' }, { at: '2026-01-02T03:05:05Z', verdict: 'did-not-boot' }],
    };
    r.quarantine.push({ commit: CSUM, ref: 'os/stable', version: '2', reason: 'did not boot', since: '2026-01-02T03:05:05Z' });
  });
  assert.deepEqual(await readAssessment(root), written);
  assert.deepEqual(JSON.parse(await readFile(path.join(root, ASSESSMENT_FILE), 'utf8')), written);
  assert.deepEqual((await readdir(path.dirname(path.join(root, ASSESSMENT_FILE)))), ['assessment.json'], 'no temporary file is left');
  const replaced = await updateAssessment(root, (): AssessmentRecord => ({ version: 1, deployments: {}, quarantine: [] }));
  assert.deepEqual(await readAssessment(root), replaced);
});

test('a damaged record is a coded error naming the file; a change that would make it invalid is refused and nothing is written', async (t) => {
  const root = await tempDir(t);
  const file = path.join(root, ASSESSMENT_FILE);
  await updateAssessment(root, () => undefined);
  const before = await readFile(file, 'utf8');
  for (const [text, why] of [
    ['not json', /not valid JSON/], ['[]', /not a JSON object/], ['{"version":1,"deployments":{},"quarantine":{}}', /quarantine is not a list/],
    [`{"version":1,"deployments":{"os/${CSUM}.0":{"state":"fine","tries":1,"since":"x"}},"quarantine":[]}`, /no state untested, good or failed/],
    [`{"version":1,"deployments":{"os/${CSUM}.0":{"state":"good","tries":-1,"since":"x"}},"quarantine":[]}`, /no whole number of tries/],
    ['{"version":1,"deployments":{},"quarantine":[{"commit":"abc","reason":"r","since":"s"}]}', /quarantine entry/],
  ] as const) {
    assert.throws(() => parseAssessment(text, file), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.SYSROOT_INVALID && e.message.includes(file) && why.test(e.message), text);
  }
  await assert.rejects(updateAssessment(root, (r) => {
    (r.deployments as Record<string, unknown>)['not a key'] = { state: 'good', tries: 0, since: 'x' };
  }), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.INTERNAL);
  assert.equal(await readFile(file, 'utf8'), before);
  await writeFile(file, '{');
  await assert.rejects(readAssessment(root), (e: unknown) => e instanceof OstreeTsError && e.message.includes(file));
  await rm(file);
  await mkdir(file);
  await assert.rejects(readAssessment(root), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.SYSROOT_INVALID && e.message.includes(`${file} cannot be read`));
});
