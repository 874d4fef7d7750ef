/**
 * The ostree-ts package's own directory, found from where the running code
 * is: the compiled modules (dist/src/...) and the bundled programs
 * (dist/cli/...) sit at different depths under it, so what ships beside them
 * (package.json, the lock addon) is found by walking up, not by a fixed
 * number of `..`.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Codes, OstreeTsError } from '../errors/index.js';

const NAME = 'ostree-ts';
let root: string | null = null;

/** The nearest directory at or above `from` whose package.json names ostree-ts. */
export function findPackageRoot(from: string): string | null {
  for (let d = from; ; d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(d, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === NAME) return d;
    } catch {
      // No package.json here, or one that is not ours: look further up.
    }
    if (path.dirname(d) === d) return null;
  }
}

/** The package's directory (looked up once); throws when the code runs outside its package. */
export function packageRoot(): string {
  if (root !== null) return root;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const found = findPackageRoot(here);
  if (found === null) throw new OstreeTsError(Codes.NOT_FOUND, `ostree-ts's package.json is not in ${here} or any directory above it; reinstall ostree-ts.`, { path: here });
  root = found;
  return root;
}

/** The package's version, as its package.json gives it. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
