/**
 * The GRUB environment block: 1024 bytes, its header, `#` padding; the
 * real grub-editenv (grub-common) writes and reads the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../../src/errors/index.js';
import { GRUBENV_HEADER, GRUBENV_MESSAGE, GRUBENV_SIZE, parseGrubenv, serializeGrubenv } from '../../src/format/index.js';
import { ok, requireTool, run, tempDir } from '../helpers/env.js';

test('serializeGrubenv: header, grub-editenv\'s warning, NAME=VALUE lines in order, # padding to exactly 1024 bytes; parse reads it back', () => {
  const vars = new Map([['boot_counter', '3'], ['boot_success', '0'], ['saved_entry', 'ostree-2-debian']]);
  const buf = serializeGrubenv(vars);
  assert.equal(buf.length, GRUBENV_SIZE);
  const body = `${GRUBENV_HEADER}${GRUBENV_MESSAGE}boot_counter=3\nboot_success=0\nsaved_entry=ostree-2-debian\n`;
  assert.equal(buf.subarray(0, body.length).toString('latin1'), body);
  assert.ok(buf.subarray(body.length).every((b) => b === 0x23), 'the rest is #');
  assert.deepEqual([...parseGrubenv(buf, 'grubenv')], [...vars]);
  assert.deepEqual([...parseGrubenv(serializeGrubenv(new Map()), 'grubenv')], []);
});

test('a value with a backslash or a newline is escaped as GRUB escapes it, and reads back the same', () => {
  const vars = new Map([['kernelopts', 'root=/dev/sda1 a\\b'], ['multi', 'line1\nline2']]);
  const buf = serializeGrubenv(vars);
  assert.ok(buf.toString('latin1').includes('kernelopts=root=/dev/sda1 a\\\\b\nmulti=line1\\\nline2\n'));
  assert.deepEqual([...parseGrubenv(buf, 'g')], [...vars]);
});

test('grubenv errors: a size other than 1024, a bad header, a line without =, too much to fit, a bad name', () => {
  const good = serializeGrubenv(new Map([['boot_success', '1']]));
  const bad = (buf: Buffer, re: RegExp): void => {
    assert.throws(() => parseGrubenv(buf, '/boot/grub2/grubenv'), (e: unknown) => {
      assert.ok(e instanceof OstreeTsError);
      assert.equal(e.code, Codes.SYSROOT_INVALID);
      assert.match(e.message, /\/boot\/grub2\/grubenv/, 'the message names the file');
      assert.match(e.message, re);
      assert.equal(e.data.file, '/boot/grub2/grubenv');
      return true;
    });
  };
  bad(good.subarray(0, 1023), /1023 bytes, not 1024/);
  bad(Buffer.concat([good, Buffer.from('#')]), /1025 bytes, not 1024/);
  bad(Buffer.alloc(0), /0 bytes/);
  const header = Buffer.from(good);
  header.write('# GRUB Environment Blocc\n', 0, 'latin1');
  bad(header, /header/);
  const noEq = Buffer.from(good);
  noEq.write('boot_success\n', GRUBENV_HEADER.length + GRUBENV_MESSAGE.length, 'latin1');
  bad(noEq, /no '='/);
  const unended = Buffer.alloc(GRUBENV_SIZE, 'x');
  unended.write(`${GRUBENV_HEADER}a=`, 0, 'latin1');
  bad(unended, /not ended by a newline/);
  const full = serializeGrubenv(new Map([['big', 'x'.repeat(GRUBENV_SIZE - GRUBENV_HEADER.length - GRUBENV_MESSAGE.length - 5)]]));
  assert.equal(full.length, GRUBENV_SIZE, 'a block filled to the last byte, without padding');
  assert.equal(parseGrubenv(full, 'g').get('big')?.length, GRUBENV_SIZE - GRUBENV_HEADER.length - GRUBENV_MESSAGE.length - 5);
  assert.throws(() => serializeGrubenv(new Map([['big', 'x'.repeat(940)]])), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.NO_SPACE && /1024/.test(e.message));
  for (const name of ['', 'a=b', '#x', 'a\nb']) {
    assert.throws(() => serializeGrubenv(new Map([[name, '1']])), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.USAGE, JSON.stringify(name));
  }
});

test('the real grub-editenv reads what we write and writes what we write, byte for byte', async (t) => {
  if (!(await requireTool(t, 'grub-editenv', 'grub-common'))) return;
  const dir = await tempDir(t);
  const theirs = path.join(dir, 'theirs');
  await ok(run('grub-editenv', [theirs, 'create']), 'grub-editenv create');
  await ok(run('grub-editenv', [theirs, 'set', 'boot_counter=3', 'boot_success=0']), 'grub-editenv set');
  const ours = serializeGrubenv(new Map([['boot_counter', '3'], ['boot_success', '0']]));
  assert.deepEqual(await readFile(theirs), ours, 'the same 1024 bytes');
  await ok(run('grub-editenv', [theirs, 'unset', 'boot_counter']), 'grub-editenv unset');
  assert.deepEqual([...parseGrubenv(await readFile(theirs), theirs)], [['boot_success', '0']]);
  const mine = path.join(dir, 'mine');
  await writeFile(mine, serializeGrubenv(new Map([['boot_counter', '-1'], ['boot_success', '1'], ['note', 'a\\b']])));
  assert.equal(await ok(run('grub-editenv', [mine, 'list']), 'grub-editenv list'), 'boot_counter=-1\nboot_success=1\nnote=a\\b');
});
