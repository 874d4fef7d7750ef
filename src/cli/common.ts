/** What the ostree-ts verbs share: the global options, opening the repository, parsing OSTree-style values. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { Repo } from '../repo/repo.js';
import { parseFaultPoints } from '../repo/fault-points.js';
import { exists, path } from '../io/fs.js';
import { flag, str, type Parsed } from './options.js';
import { defineVerb } from './shell.js';

/** Options every ostree-ts verb takes. */
export const GLOBALS = {
  repo: str('Path to the OSTree repository (default: $OSTREE_REPO, the current directory, or /sysroot/ostree/repo)'),
  verbose: flag('Print more: what signed a commit, the stack trace of an internal error', { alias: 'v' }),
};

export type GlobalArgs = Parsed<typeof GLOBALS>;

/** Define an ostree-ts verb (see shell.ts). */
export const verb = defineVerb<GlobalArgs>();

/**
 * The repository named by --repo, else $OSTREE_REPO, else the current
 * directory or /sysroot/ostree/repo. $OSTREE_TS_TEST_FAULT (comma-separated
 * fault points, for tests) makes its writes stop there.
 */
export async function openRepo(args: { repo?: string }): Promise<Repo> {
  const handle = { faults: parseFaultPoints(process.env.OSTREE_TS_TEST_FAULT ?? '') };
  const explicit = args.repo ?? process.env.OSTREE_REPO;
  if (explicit) return Repo.open(explicit, handle);
  if (await exists(path.join(process.cwd(), 'objects'))) return Repo.open(process.cwd(), handle);
  if (await exists('/sysroot/ostree/repo/objects')) return Repo.open('/sysroot/ostree/repo', handle);
  throw new OstreeTsError(Codes.REPO_NOT_FOUND, 'No repository given. Pass --repo=PATH (or set OSTREE_REPO), or run inside a repository.');
}

/** `@SECONDS` or a date string, as `--timestamp` takes it. */
export function parseTimestamp(s: string, what = '--timestamp'): bigint {
  if (/^@-?\d+$/.test(s)) return BigInt(s.slice(1));
  if (/^\d+$/.test(s)) return BigInt(s);
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) {
    throw new OstreeTsError(Codes.USAGE, `Could not parse ${what} '${s}'. Use @SECONDS (since the epoch) or a date such as '2024-01-31 12:00:00Z'.`, { value: s });
  }
  return BigInt(Math.floor(ms / 1000));
}

export { write } from './output.js';

/** `YYYY-MM-DD HH:MM:SS +0000`, as ostree prints commit dates. */
export function formatDate(ts: bigint): string {
  const d = new Date(Number(ts) * 1000);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +0000`;
}

/** A size in bytes, with an optional K, M, G or T suffix (powers of 1024). */
export function parseSize(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new OstreeTsError(Codes.USAGE, `Could not parse ${what} '${s}'. Use a number of bytes, optionally with K, M, G or T.`, { value: s });
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}
