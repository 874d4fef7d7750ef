/**
 * syncFilesystem (syncfs through the `sync` program) works with busybox's
 * sync as well as coreutils': a busybox host (such as the VM test's vm-os)
 * makes the boot reconcile's switch of the default durable instead of
 * failing on an option busybox does not have (`--file-system`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { syncFilesystem } from '../../src/io/index.js';
import { run, tempDir } from '../helpers/env.js';

const BUSYBOX = '/bin/busybox';

test('syncFilesystem with coreutils sync, and with busybox sync first on PATH', async (t) => {
  const dir = await tempDir(t, 'ots-sync-');
  await writeFile(path.join(dir, 'f'), 'data');
  await syncFilesystem(dir);
  const hasBusybox = existsSync(BUSYBOX) && (await run(BUSYBOX, ['sync', '--help'])).stderr.includes('-f');
  if (!hasBusybox) {
    if (process.env.CI === 'true') assert.fail(`${BUSYBOX} with sync -f is needed (apt-get install busybox-static)`);
    t.skip(`no ${BUSYBOX} with sync -f (apt-get install busybox-static)`);
    return;
  }
  const bin = path.join(dir, 'bin');
  await run('mkdir', [bin]);
  await symlink(BUSYBOX, path.join(bin, 'sync'));
  const old = process.env.PATH;
  process.env.PATH = `${bin}:${old}`;
  try {
    assert.equal((await run('sync', ['--help'])).stderr.includes('BusyBox'), true, 'busybox sync is the one found');
    await syncFilesystem(dir);
  } finally {
    process.env.PATH = old;
  }
});
