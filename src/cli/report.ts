/** How both commands (ostree-ts, atomic) report a failure: the one place that maps errors to exit codes. */
import { isCodedError } from '../errors/index.js';

/**
 * Print `e` for people on stderr (and, with `json`, a coded error as a
 * `kind: Error` document on stdout); returns the exit code.
 */
export function reportError(e: unknown, opts: { json?: boolean } = {}): number {
  if (isCodedError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    if (process.env.OSTREE_TS_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'Error', error: e.toJSON() }, null, 2)}\n`);
    return 1;
  }
  if (e instanceof Error && (e as { usage?: boolean }).usage) {
    process.stderr.write(`error: ${e.message}\nRun with --help for usage.\n`);
    return 1;
  }
  if (e instanceof Error && 'code' in e && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
    const n = e as NodeJS.ErrnoException;
    process.stderr.write(`error: ${n.syscall} ${n.path ?? ''}: ${n.code} (${n.message})\n`);
    return 1;
  }
  process.stderr.write(`error: unexpected failure: ${e instanceof Error ? e.stack ?? e.message : String(e)}\nThis is a bug in ostree-ts; please report it with the command you ran.\n`);
  return 1;
}
