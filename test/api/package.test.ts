/**
 * The public library API, as a user gets it: the package packed with
 * `npm pack`, installed into a new project, and the README's example run
 * there as it stands (it commits, signs, pulls and deploys, then reads the
 * host status). Only the `exports` entry point is reachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT, isRoot, ok, ostree, requireOstree, run, tempDir } from '../helpers/env.js';
import { makeOsTree } from '../helpers/host.js';

/** The first ```js block after the README's "Using it as a library" heading. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('## Using it as a library');
  assert.ok(at >= 0, 'the README has a library section');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'the library section has a js example');
  return m[1];
}

test('the packed package installs, exposes only its entry point, and runs the README example', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!isRoot) {
    if (process.env.CI === 'true') throw new Error('the example deploys into a sysroot, which needs root');
    t.skip('the example deploys into a sysroot, which needs root');
    return;
  }
  const dir = await tempDir(t);
  const example = await readmeExample();
  const lines = example.trim().split('\n').filter((l) => l.trim() && !l.trim().startsWith('//'));
  assert.ok(lines.length <= 15, `the example has ${lines.length} lines of code`);

  // The tarball users would get (dist/ is built by npm test; the prepare script is not needed again).
  const packs = path.join(dir, 'packs');
  await mkdir(packs);
  await ok(run('npm', ['pack', '--ignore-scripts', '--pack-destination', packs], { cwd: ROOT }), 'npm pack');
  const [tgz] = (await readdir(packs)).filter((n) => n.endsWith('.tgz'));
  const listing = await ok(run('tar', ['-tzf', path.join(packs, tgz)]), 'tar -t');
  assert.match(listing, /^package\/dist\/src\/index\.js$/m);
  assert.match(listing, /^package\/dist\/src\/index\.d\.ts$/m);
  assert.doesNotMatch(listing, /^package\/dist\/test\//m, 'tests are not shipped');
  assert.doesNotMatch(listing, /^package\/src\//m, 'sources are not shipped');
  // The OFD lock addon ships as source, built where the package is installed.
  assert.match(listing, /^package\/native\/ofd-lock\/ofd_lock\.c$/m);
  assert.match(listing, /^package\/native\/ofd-lock\/binding\.gyp$/m);
  assert.doesNotMatch(listing, /^package\/native\/ofd-lock\/build\//m, 'no build output is shipped');

  const project = path.join(dir, 'project');
  await mkdir(project);
  await writeFile(path.join(project, 'package.json'), `${JSON.stringify({ name: 'uses-ostree-ts', private: true, type: 'module' })}\n`);
  // Other native builds are not needed for this example (zstd is loaded only when used); the cache npm ci filled serves the rest.
  await ok(run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', path.join(packs, tgz)], { cwd: project }), 'npm install');
  // Except the OFD lock addon (commit and pull take the repository lock): ostree-ts's own install script builds it.
  await ok(run('npm', ['rebuild', 'ostree-ts', '--no-audit', '--no-fund'], { cwd: project }), 'npm rebuild ostree-ts');
  await stat(path.join(project, 'node_modules', 'ostree-ts', 'native', 'ofd-lock', 'build', 'Release', 'ofd_lock.node'));

  // Internal modules are not reachable; the types are.
  const deep = await run(process.execPath, ['--input-type=module', '-e', "await import('ostree-ts/dist/src/repo/index.js')"], { cwd: project });
  assert.notEqual(deep.code, 0, 'a deep import is refused by exports');
  assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  const types = await readFile(path.join(project, 'node_modules', 'ostree-ts', 'dist', 'src', 'index.d.ts'), 'utf8');
  for (const name of ['commitTree', 'signCommit', 'pull', 'deploy', 'hostStatus', 'addRemote']) assert.match(types, new RegExp(`\\b${name}\\b`), `${name} is typed`);

  await makeOsTree(path.join(project, 'rootfs'), { version: '1', kernel: 'k1' });
  await writeFile(path.join(project, 'example.mjs'), example);
  const out = await ok(run(process.execPath, ['example.mjs'], { cwd: project }), 'the README example');
  const m = /^deployed ([0-9a-f]{64})$/m.exec(out);
  assert.ok(m, out);
  // The real ostree agrees: the repository checks, and the sysroot has the commit deployed.
  await ok(ostree(`--repo=${path.join(project, 'repo')}`, 'fsck'), 'ostree fsck');
  const status = await ok(ostree('admin', `--sysroot=${path.join(project, 'sysroot')}`, 'status'), 'ostree admin status');
  assert.match(status, new RegExp(`demo ${m[1]}\\.0`));
});
