#!/usr/bin/env node
/**
 * Build the OFD lock addon (build/Release/ofd_lock.node), run by `npm ci` /
 * `npm install` as the package's install script.
 *
 * node-gyp (the copy npm ships) does the build; when the headers of the
 * running Node are installed beside it (PREFIX/include/node), they are used,
 * so nothing is downloaded. Should node-gyp be unable to run (it needs
 * python3), a C compiler alone builds the one file against those headers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const prefix = path.resolve(path.dirname(process.execPath), '..');
const localHeaders = existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) && existsSync(path.join(prefix, 'include', 'node', 'common.gypi'));
const output = path.join(here, 'build', 'Release', 'ofd_lock.node');

function nodeGyp() {
  // npm names its own node-gyp to the scripts it runs; otherwise look beside npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package; the others will do
  }
  return candidates.find((c) => c && existsSync(c));
}

function viaNodeGyp() {
  const gyp = nodeGyp();
  if (!gyp) return false;
  const args = [gyp, 'rebuild', `--directory=${here}`];
  if (localHeaders) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  return r.status === 0 && existsSync(output);
}

function viaCompiler() {
  if (!localHeaders) return false;
  process.stderr.write('ostree-ts: node-gyp could not build the OFD lock addon; building it with the C compiler alone.\n');
  const cc = process.env.CC || 'cc';
  mkdirSync(path.dirname(output), { recursive: true });
  const r = spawnSync(cc, [
    '-std=c11', '-O2', '-Wall', '-Wextra', '-fPIC', '-shared', '-DNAPI_VERSION=8',
    `-I${path.join(prefix, 'include', 'node')}`, '-o', output, path.join(here, 'ofd_lock.c'), '-lpthread',
  ], { stdio: 'inherit' });
  return r.status === 0;
}

if (process.platform !== 'linux') {
  // OFD locks are Linux's; elsewhere there is nothing to build (and no sysroot to lock).
  process.exit(0);
}
if (viaNodeGyp() || viaCompiler()) process.exit(0);
process.stderr.write(
  'ostree-ts: could not build the OFD lock addon (native/ofd-lock). It needs a C compiler and make '
  + '(and python3 for node-gyp, unless Node\'s headers are installed under its prefix). Install them, then run npm rebuild.\n',
);
process.exit(1);
