/**
 * Issue 16, acceptance 3: recipe mistakes and failing steps stop the build
 * with a message naming the file and line, or the step; nothing is
 * committed and no ref moves (the real ostree's fsck stays clean).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { commitObjects, composeCli, composeOk, copyRecipes, fsckClean, newRepo } from './helpers.js';
import { loadRecipe, parseRecipeFile, type RecipeReader } from '../../src/compose/index.js';
import { OstreeTsError } from '../../src/errors/index.js';

const REF = 'hello-os/x86_64/stable';

interface Case {
  name: string;
  /** Files of the recipe directory; the first is composed. */
  files: Record<string, string>;
  /** What the message must say. */
  expect: RegExp;
  needs?: 'git';
}

const CASES: Case[] = [
  {
    name: 'an unknown key',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\nversion: "3"\nbootabel: false\n' },
    expect: /bad\.yaml:3:1: unknown key `bootabel`\. Remove it, or use one of: .*bootable/,
  },
  {
    name: 'an unknown key deeper down',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\nfiles:\n  - path: /etc/x\n    content: x\n    mood: "0644"\n' },
    expect: /bad\.yaml:5:5: unknown key `mood` in files\[0\]\. Remove it, or use one of: path, content, mode, owner/,
  },
  {
    name: 'a wrong type',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\npostprocess:\n  - name: x\n    script: "true"\n    timeout: ten\n' },
    expect: /bad\.yaml:5:14: `postprocess\[0\]\.timeout` must be a number of seconds/,
  },
  {
    name: 'a missing base',
    files: { 'bad.yaml': 'ref: hello-os/x86_64/stable\nversion: "1"\n' },
    expect: /bad\.yaml:1:1: the recipe has no `base`\. Add `base:`/,
  },
  {
    name: 'a base whose directory does not exist',
    files: { 'bad.yaml': 'ref: hello-os/x86_64/stable\ntimestamp: 0\nbase:\n  directory: ../nowhere\n' },
    expect: /Compose step base \(.*bad\.yaml:4\) failed: no directory .*nowhere/,
  },
  {
    name: 'a git revision that does not exist',
    needs: 'git',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\nlayers:\n  - git: {repo: ../overlay, rev: no-such-branch}\n' },
    expect: /Compose step layers\[1\] \(.*bad\.yaml:3\) failed: .*no revision "no-such-branch".*Pin the layer to a revision that exists/s,
  },
  {
    name: 'a postprocess script that fails',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\npostprocess:\n  - name: breaks\n    script: |\n      echo "about to fail in $1"\n      false\n      echo never\n' },
    expect: /Compose step postprocess "breaks" \(.*bad\.yaml:3\) failed: exit status 1; its output ended with:\nabout to fail in .*\nFix the script/,
  },
  {
    name: 'a postprocess script that hangs',
    files: { 'bad.yaml': 'include: [hello-os.yaml]\npostprocess:\n  - name: hangs\n    timeout: 1\n    script: |\n      echo waiting\n      sleep 600\n' },
    expect: /Compose step postprocess "hangs" \(.*bad\.yaml:3\) failed: timed out after 1 s \(killed\); its output ended with:\nwaiting\n.*raise its timeout/s,
  },
  {
    name: 'an include cycle',
    files: { 'bad.yaml': 'include: [other.yaml]\n', 'other.yaml': 'ref: x\ninclude:\n  - bad.yaml\n' },
    expect: /other\.yaml:3:5: include cycle: .*bad\.yaml -> .*other\.yaml -> .*bad\.yaml\. Remove one of these includes/,
  },
  {
    name: 'no kernel in a bootable tree',
    files: { 'bad.yaml': 'ref: hello-os/x86_64/stable\ntimestamp: 0\nbase:\n  directory: ../fixtures/hello-os/rootfs\n' },
    expect: /Compose step bootable failed: the tree has no kernel .*set `bootable: false`/,
  },
];

for (const c of CASES) {
  test(`${c.name}: the build stops naming it, nothing is committed, the ref stays`, async (t) => {
    if (!(await requireOstree(t))) return;
    if (c.needs === 'git' && !(await requireTool(t, 'git', 'git'))) return;
    const dir = await tempDir(t, 'ots-compose-err-');
    const { recipes } = await copyRecipes(dir);
    if (c.needs === 'git') {
      const g = path.join(dir, 'overlay');
      await ok(run('git', ['init', '-q', '-b', 'main', g]), 'git init');
      await writeFile(path.join(g, 'x'), 'x\n');
      await ok(run('git', ['-C', g, 'add', '.']), 'git add');
      await ok(run('git', ['-C', g, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'x']), 'git commit');
    }
    for (const [name, text] of Object.entries(c.files)) await writeFile(path.join(recipes, name), text);
    const repo = await newRepo(dir, 'repo');
    const before = await composeOk(path.join(recipes, 'hello-os.yaml'), repo);
    const r = await composeCli([path.join(recipes, Object.keys(c.files)[0]), `--repo=${repo}`]);
    assert.equal(r.code, 1, `compose should fail:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, c.expect);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await commitObjects(repo), [before.checksum], 'nothing committed');
    assert.equal(await ok(ostree('rev-parse', `--repo=${repo}`, REF)), before.checksum, 'the ref did not move');
    assert.equal(await ok(ostree('refs', `--repo=${repo}`)), REF);
    await fsckClean(repo);
  });
}

const memoryReader = (files: Record<string, string>): RecipeReader => ({
  read: async (f) => {
    if (!(f in files)) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return files[f];
  },
  resolve: (_from, p) => p,
});

test('parsing: positions and fixes for YAML and schema mistakes (table)', async () => {
  const rows: Array<[string, RegExp]> = [
    ['ref: [unclosed\n', /^r\.yaml:\d+:\d+: not valid YAML/],
    ['ref: a\nref: b\n', /^r\.yaml:2:1: not valid YAML: Map keys must be unique/],
    ['- a\n- b\n', /^r\.yaml:1:1: a recipe is a map of keys/],
    ['ref: a\nbase:\n  tarball: x.tar\n  directory: y\n', /^r\.yaml:3:3: `base` gives tarball and directory: it takes exactly one source\. Give one of: tarball, directory, ref, debian\./],
    ['ref: a\nbase: {}\n', /^r\.yaml:2:7: `base` is empty: it takes exactly one source/],
    ['ref: a\nbase:\n  debian:\n    suite: bookworm\n    variant: tiny\n', /^r\.yaml:5:14: `base\.debian\.variant` must be an mmdebstrap variant/],
    ['ref: a\nbase:\n  debian:\n    variant: minbase\n', /^r\.yaml:4:5: base\.debian needs `suite`\. Add `suite:` there\./],
    ['ref: a\nbase: {tarball: x}\nfiles:\n  - {path: /etc/x, content: y, mode: "999"}\n', /^r\.yaml:4:38: `files\[0\]\.mode` must be an octal mode/],
    ['ref: a\nbase: {tarball: x}\nfiles:\n  - {path: ../x, content: y}\n', /^r\.yaml:4:12: `files\[0\]\.path` "\.\.\/x" is not a path inside the tree/],
    ['ref: a\nbase: {tarball: x}\nchecks:\n  - {name: "a/b", script: "true"}\n', /^r\.yaml:4:12: `checks\[0\]\.name` must be a file name/],
    ['ref: a\nbase: {tarball: x}\nsign: {type: rsa, key: k}\n', /^r\.yaml:3:14: `sign\.type` must be ed25519 or gpg/],
    ['ref: a\nbase: {tarball: x}\ntimestamp: next tuesday\n', /^r\.yaml:3:12: `timestamp` "next tuesday" is not a date/],
    ['base: {tarball: x}\n', /^r\.yaml:1:1: the recipe names no `ref`/],
  ];
  for (const [text, re] of rows) {
    const e = await loadRecipe('r.yaml', memoryReader({ 'r.yaml': text })).then(() => null, (err: unknown) => err);
    assert.ok(e instanceof OstreeTsError, `${JSON.stringify(text)} should be refused`);
    assert.equal(e.code, 'E_RECIPE');
    assert.match(e.message, re, JSON.stringify(text));
    assert.equal(typeof e.data.line, 'number');
  }
});

test('includes merge: scalars from the including file, files by path, checks by name, lists in order', async () => {
  const r = await loadRecipe('top.yaml', memoryReader({
    'top.yaml': 'include: [base.yaml]\nversion: "2"\nfiles:\n  - {path: /etc/a, content: new}\nchecks:\n  - {name: c1, required: false, script: "exit 1"}\nremove: [two]\nlayers:\n  - directory: l2\n',
    'base.yaml': 'ref: os/x\nversion: "1"\ntimestamp: 100\nbase: {tarball: b.tar}\nmetadata: {k: v}\nfiles:\n  - {path: /etc/a, content: old}\n  - {path: /etc/b, content: b, mode: "0600", owner: "1:2"}\nchecks:\n  - {name: c1, script: "exit 0"}\n  - {name: c2, script: "exit 0"}\nremove: [one]\nlayers:\n  - directory: l1\n',
  }));
  assert.equal(r.ref, 'os/x');
  assert.equal(r.version, '2');
  assert.equal(r.timestamp, 100n);
  assert.deepEqual(r.recipeFiles, ['top.yaml', 'base.yaml']);
  assert.deepEqual(r.files.map((f) => [f.path, f.content, f.mode, f.uid, f.gid]), [['etc/a', 'new', 0o644, 0, 0], ['etc/b', 'b', 0o600, 1, 2]]);
  assert.deepEqual(r.checks.map((c) => [c.name, c.kind, c.script]), [['c1', 'wanted', 'exit 1'], ['c2', 'required', 'exit 0']]);
  assert.deepEqual(r.remove.map((x) => x.glob), ['one', 'two']);
  assert.deepEqual(r.layers.map((l) => (l.kind === 'directory' ? l.path : '')), ['l1', 'l2']);
  assert.deepEqual(r.metadata, [['k', 'v']]);
  assert.equal(parseRecipeFile('ref: a\n', 'x.yaml').pos(['ref']).line, 1);
});
