/** The Debian mirror compose uses is read from the machine's apt sources: both formats, disabled stanzas and comments skipped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { aptMirrorFor, aptMirrors, parseDeb822, parseOneLine } from '../../src/io/index.js';
import { tempDir } from '../helpers/env.js';

test('one-line and deb822 sources', () => {
  assert.deepEqual(parseOneLine('# deb http://a.invalid/x sid main\ndeb-src http://b.invalid/y sid main\ndeb [arch=amd64 signed-by=/k.gpg] http://c.invalid/debian bookworm main # note\n'), [
    { uri: 'http://c.invalid/debian', suites: ['bookworm'] },
  ]);
  assert.deepEqual(parseDeb822('Types: deb deb-src\n# a comment\nURIs: http://d.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://e.invalid/debian\nSuites: trixie\nEnabled: no\n'), [
    { uri: 'http://d.invalid/debian', suites: ['bookworm', 'bookworm-updates'] },
  ]);
});

test('the mirror for a suite: the first source carrying it, in the order apt reads them', async (t) => {
  const dir = await tempDir(t, 'ots-apt-');
  await mkdir(path.join(dir, 'sources.list.d'));
  await writeFile(path.join(dir, 'sources.list.d', 'b.sources'), 'Types: deb\nURIs: http://b.invalid/debian\nSuites: bookworm\n');
  await writeFile(path.join(dir, 'sources.list.d', 'a.list'), 'deb http://a.invalid/debian trixie main\n');
  await writeFile(path.join(dir, 'sources.list.d', 'c.list.disabled'), 'deb http://c.invalid/debian bookworm main\n');
  assert.deepEqual((await aptMirrors(dir)).map((s) => s.uri), ['http://a.invalid/debian', 'http://b.invalid/debian']);
  assert.equal(await aptMirrorFor('bookworm', dir), 'http://b.invalid/debian');
  assert.equal(await aptMirrorFor('sid', dir), 'http://a.invalid/debian', 'else the first source');
  assert.equal(await aptMirrorFor('bookworm', path.join(dir, 'none')), null);
});
