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
let found: { dir: string; version: string } | null = null;

/** The nearest directory at or above `from` whose package.json names ostree-ts, and the version it gives. */
export function findPackage(from: string): { dir: string; version: string } | null {
  for (let d = from; ; d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(d, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === NAME) return { dir: d, version: String(pkg.version) };
    } catch {
      // No package.json here, or one that is not ours: look further up.
    }
    if (path.dirname(d) === d) return null;
  }
}

/** The package's directory and version (looked up once); throws when the code runs outside its package. */
function ownPackage(): { dir: string; version: string } {
  if (found !== null) return found;
  const here = path.dirname(fileURLToPath(import.meta.url));
  found = findPackage(here);
  if (found === null) throw new OstreeTsError(Codes.NOT_FOUND, `ostree-ts's package.json is not in ${here} or any directory above it; reinstall ostree-ts.`, { path: here });
  return found;
}

/** The package's directory. */
export function packageRoot(): string {
  return ownPackage().dir;
}

/** The package's version, as its package.json gives it. */
export function packageVersion(): string {
  return ownPackage().version;
}
