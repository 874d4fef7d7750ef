import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEfiStringVariable, loaderEntryFileName, parseEfiStringVariable } from '../../src/format/efivar.js';

test('efivarfs string variables: attributes, then UTF-16LE ending in NUL; the entry name in a loader path', () => {
  // As systemd-boot sets LoaderBootCountPath (boot-service and runtime access, 0x6), byte by byte.
  const raw = Buffer.from([0x06, 0, 0, 0, ...Buffer.from('\\loader\\entries\\a+2-1.conf\u0000', 'utf16le')]);
  assert.equal(parseEfiStringVariable(raw), '\\loader\\entries\\a+2-1.conf');
  assert.deepEqual(encodeEfiStringVariable('\\loader\\entries\\a+2-1.conf', 0x6), raw);
  assert.equal(parseEfiStringVariable(Buffer.from([7, 0, 0])), null, 'shorter than its attributes');
  assert.equal(parseEfiStringVariable(Buffer.from([7, 0, 0, 0, 0x41])), null, 'an odd number of value bytes');
  assert.equal(loaderEntryFileName('\\loader\\entries\\ostree-2-os+2-1.conf'), 'ostree-2-os+2-1.conf');
  assert.equal(loaderEntryFileName('\\EFI\\Linux\\uki.efi'), null);
  assert.equal(loaderEntryFileName('\\loader\\entries\\..\\x.conf'), null);
});
