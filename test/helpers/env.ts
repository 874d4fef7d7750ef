/**
 * Test environment: temporary directories, the real `ostree` oracle and our CLI.
 * Under CI (CI=true) a missing oracle fails the test instead of skipping it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The project root (tests run from dist/test/helpers). */
export const ROOT = path.resolve(here, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBuf = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: stdoutBuf.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBuf });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Run our CLI. */
export function ots(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args]);
}

/** Run the real ostree. */
export function ostree(...args: string[]): Promise<RunResult> {
  return run('ostree', args);
}

/** Run and insist on success; returns trimmed stdout. */
export async function ok(p: Promise<RunResult>, what = 'command'): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed with ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout.trim();
}

let oracle: Promise<boolean> | null = null;

function hasCommand(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(cmd, args, (err) => resolve(!err)));
}

/**
 * The real ostree must be installed (.ci/run installs it). Locally a test
 * without it is skipped; under CI it fails.
 */
export async function requireOstree(t: TestContext): Promise<boolean> {
  oracle ??= hasCommand('ostree', ['--version']);
  if (await oracle) return true;
  if (process.env.CI === 'true') throw new Error('The real ostree binary is required (apt-get install -y ostree); .ci/run installs it.');
  t.skip('ostree is not installed (apt-get install -y ostree)');
  return false;
}

export async function requireTool(t: TestContext, cmd: string, pkg: string): Promise<boolean> {
  if (await hasCommand('sh', ['-c', `command -v ${cmd}`])) return true;
  if (process.env.CI === 'true') throw new Error(`${cmd} is required (apt-get install -y ${pkg}); .ci/run installs it.`);
  t.skip(`${cmd} is not installed (apt-get install -y ${pkg})`);
  return false;
}

/** A fresh temporary directory, removed after the test. */
export async function tempDir(t: TestContext, prefix = 'ots-test-'): Promise<string> {
  const d = await mkdtemp(path.join(process.env.OSTREE_TS_TEST_TMP ?? tmpdir(), prefix));
  t.after(() => removeTree(d));
  return d;
}

/**
 * rm -rf that also clears the immutable flag OSTree sets on deployment
 * directories (and on nothing else), which otherwise makes removal fail.
 */
export async function removeTree(d: string): Promise<void> {
  try {
    await rm(d, { recursive: true, force: true });
  } catch {
    await run('chattr', ['-R', '-f', '-i', d]).catch(() => undefined);
    await rm(d, { recursive: true, force: true });
  }
}

export const isRoot = process.getuid?.() === 0;

/** Run only as root: false (the test skipped) when not, but under CI=true, which runs as root, a failure. */
export function requireRoot(t: TestContext, why: string): boolean {
  if (isRoot) return true;
  if (process.env.CI === 'true') throw new Error(`This test needs root (${why}); CI runs as root.`);
  t.skip(`needs root: ${why}`);
  return false;
}

export const MODES = ['archive', 'bare', 'bare-user', 'bare-user-only'] as const;
