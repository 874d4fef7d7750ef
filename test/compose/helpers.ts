/** Composing in tests: a copy of recipes/ and fixtures/ to change, repositories, the CLI with an environment. */
import { cp, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CLI, ok, ostree, requireRoot, ROOT, run, type RunResult } from '../helpers/env.js';

/** recipes/ and fixtures/hello-os copied under `dir`, as they sit in the project. */
export async function copyRecipes(dir: string): Promise<{ recipes: string; fixtures: string }> {
  const recipes = path.join(dir, 'recipes');
  const fixtures = path.join(dir, 'fixtures');
  await cp(path.join(ROOT, 'recipes'), recipes, { recursive: true, verbatimSymlinks: true });
  await cp(path.join(ROOT, 'fixtures', 'hello-os'), path.join(fixtures, 'hello-os'), { recursive: true, verbatimSymlinks: true });
  return { recipes, fixtures };
}

export function composeCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  // SOURCE_DATE_EPOCH from the caller's environment would override the recipes' timestamps.
  return run(process.execPath, [CLI, 'compose', ...args], { env: { SOURCE_DATE_EPOCH: '', ...env } });
}

export async function newRepo(dir: string, name: string, mode = 'archive'): Promise<string> {
  const repo = path.join(dir, name);
  await ok(ostree('init', `--repo=${repo}`, `--mode=${mode}`), 'ostree init');
  return repo;
}

/** Compose and return the commit checksum the ref names afterwards. */
export async function composeOk(recipe: string, repo: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ checksum: string; out: RunResult }> {
  const out = await composeCli([recipe, `--repo=${repo}`, ...extra], env);
  assert.equal(out.code, 0, `compose ${recipe} failed:\n${out.stderr}\n${out.stdout}`);
  const m = /^ {2}commit: {3}([0-9a-f]{64})$/m.exec(out.stdout);
  assert.ok(m, `no commit line in:\n${out.stdout}`);
  return { checksum: m[1], out };
}

/** The real ostree's fsck of the repository passes. */
export async function fsckClean(repo: string): Promise<void> {
  await ok(ostree('fsck', `--repo=${repo}`), `ostree fsck ${repo}`);
}

/** Commit objects in the repository (by the real ostree's layout). */
export async function commitObjects(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(repo, 'objects'))) {
    for (const f of await readdir(path.join(repo, 'objects', d))) if (f.endsWith('.commit')) out.push(d + f.replace(/\.commit$/, ''));
  }
  return out.sort();
}

/** Kept for the compose tests' call sites: the project's one root check. */
export function skipUnlessRoot(t: TestContext, _isRoot: boolean, what: string): boolean {
  return requireRoot(t, what);
}
