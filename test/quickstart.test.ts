/**
 * Issue 16, acceptance 4: the quickstart (`npm start`) runs to completion,
 * twice in a row in the same folder, shows the rollback and the quarantine,
 * and leaves no server behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROOT, requireOstree, run, tempDir } from './helpers/env.js';

const SCRIPT = path.join(ROOT, 'dist', 'fixtures', 'quickstart.js');

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

test('the quickstart: compose, publish, deploy, a failed update rolled back and quarantined, the fix blessed — twice', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = path.join(await tempDir(t), 'quickstart');
  for (const round of [1, 2]) {
    const r = await run(process.execPath, [SCRIPT], { env: { ...process.env, OSTREE_TS_QUICKSTART_DIR: dir } });
    assert.equal(r.code, 0, `round ${round}: exit status\n${r.stderr}\n${r.stdout}`);
    assert.equal(r.stderr, '', `round ${round}: nothing on stderr`);
    const out = r.stdout;
    // 2.0 booted exactly three times (3 → 2 → 1 → 0), then the bootloader fell back to 1.0.
    assert.match(out, /\+3\.conf \(tries 3 → 2\), health check: fail/);
    assert.match(out, /\+2-1\.conf \(tries 2 → 1\), health check: fail/);
    assert.match(out, /\+1-2\.conf \(tries 1 → 0\), health check: fail/);
    assert.match(out, /the bootloader fell back, reconcile: required check 10-hello-os failed/);
    assert.match(out, /Quarantined: [0-9a-f]{64} \(version 2\.0\)/);
    assert.match(out, /upgrade --check: exit 77/);
    assert.match(out, /Version: 3\.0[\s\S]*Boot assessment: good/);
    assert.match(out, /Done in [0-9.]+ s\./);
    const port = Number((await readFile(path.join(dir, 'port'), 'utf8')).trim());
    assert.ok(await refused(port), `round ${round}: the server on port ${port} is gone`);
  }
});
