/**
 * On the ESP (FAT) a rename writes the new directory entry without the
 * file's start cluster and size: they are written with the file's inode. So
 * every rename of a boot entry on the ESP is followed by an fsync of the
 * renamed file itself, then of the directory; with the directory alone, a
 * power cut right after the blessing's rename left an empty
 * `ostree-2-….conf` (the old name gone) and the firmware fell back to the
 * previous deployment, which then marked the good update failed (seen on
 * real boots, test/vm). Checked here on the system calls (strace -y) of a
 * boot with the systemd-boot back end: the firmware's counter rename and the
 * blessing's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { requireTool, run, tempDir } from '../helpers/env.js';
import { ATOMIC, makeHost, makeOsTree, publish } from '../helpers/host.js';
import { putFile } from '../helpers/trees.js';

test('every rename on the ESP is followed by an fsync of the renamed file, then of its directory', async (t) => {
  if (!(await requireTool(t, 'strace', 'strace'))) return;
  const dir = await tempDir(t, 'ots-esp-rename-');
  const host = await makeHost(t, dir, { v1: { version: '1.0', kernel: 'k1' } });
  const S = host.sysroot;
  await mkdir(path.join(S, 'boot', 'efi'), { recursive: true });
  await putFile(S, 'etc/ostree-ts/atomic.conf', '[boot]\nbackend=systemd-boot\nesp=/boot/efi\ntries=2\n');
  await publish(host.upstream, await makeOsTree(path.join(dir, 'tree-v2'), { version: '2.0', kernel: 'k2' }), { timestamp: 1_700_000_100, version: '2.0' });
  assert.equal((await run(process.execPath, [ATOMIC, `--sysroot=${S}`, 'upgrade'])).code, 0);
  const trace = path.join(dir, 'trace');
  const r = await run('strace', ['-f', '-y', '-qq', '-e', 'trace=rename,renameat,renameat2,fsync,fdatasync', '-o', trace, process.execPath, ATOMIC, `--sysroot=${S}`, 'simulate-boot']);
  assert.equal(r.code, 0, r.stderr);
  const calls = (await readFile(trace, 'utf8')).split('\n').map((l) => l.replace(/^\d+\s+/, ''));
  const entries = path.join(S, 'boot', 'efi', 'loader', 'entries');
  let renames = 0;
  calls.forEach((c, i) => {
    const m = /^rename(?:at2?)?\(.*"([^"]+)",\s*(?:\d+<[^>]*>,\s*)?"([^"]+)"/.exec(c);
    if (!m) return;
    const to = path.resolve(entries, m[2]);
    if (path.dirname(to) !== entries) return;
    renames++;
    const after = calls.slice(i + 1);
    const fileSync = after.findIndex((x) => /^f(?:data)?sync\(\d+<([^>]+)>\)/.exec(x)?.[1] === to);
    const dirSync = after.findIndex((x) => /^f(?:data)?sync\(\d+<([^>]+)>\)/.exec(x)?.[1] === entries);
    assert.ok(fileSync >= 0, `the renamed ${path.basename(to)} is synced after the rename:\n${after.slice(0, 8).join('\n')}`);
    assert.ok(dirSync > fileSync, `then its directory:\n${after.slice(0, 8).join('\n')}`);
  });
  // The firmware's rename (+2 → +1-1) and the blessing's (→ no counter).
  assert.ok(renames >= 2, `renames on the ESP seen: ${renames}\n${calls.filter((c) => c.startsWith('rename')).join('\n')}`);
});
