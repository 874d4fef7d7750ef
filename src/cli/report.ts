/**
 * How both commands (ostree-ts, atomic) report a failure, and the one place
 * that maps errors to exit statuses.
 *
 * `atomic` tells the cases a script acts on apart (the table below, also in
 * `atomic --help` and the README). `ostree-ts` exits as `ostree` does, 1 for
 * every failure, so that scripts (and tests) comparing the two see the same
 * status; only an internal error differs (70).
 */
import { Codes, isCodedError, isInternalError, OstreeTsError, type ErrorHint } from '../errors/index.js';
import { document } from './output.js';

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  LOCKED: 3,
  SIGNATURE: 4,
  REFUSED: 5,
  INTERNAL: 70,
  /** health-check: a required check could not tell (EX_TEMPFAIL). */
  INCONCLUSIVE: 75,
  NOTHING_TO_DO: 77,
} as const;

/** The exit status each error code maps to under `atomic`; codes not listed exit 1. */
const STATUS_OF_CODE: Record<string, number> = {
  [Codes.USAGE]: EXIT.USAGE,
  [Codes.LOCKED]: EXIT.LOCKED,
  [Codes.SIGNATURE]: EXIT.SIGNATURE,
  [Codes.PREFLIGHT]: EXIT.REFUSED,
  [Codes.DOWNGRADE]: EXIT.REFUSED,
  [Codes.INTERNAL]: EXIT.INTERNAL,
};

/** The table as rows, for `atomic --help`. */
export const EXIT_STATUS_HELP: Array<[number, string]> = [
  [EXIT.OK, 'success'],
  [EXIT.FAILURE, 'failure (anything not listed here)'],
  [EXIT.USAGE, 'a bad option or argument'],
  [EXIT.LOCKED, 'the sysroot is locked by another process (E_LOCKED); --lock-wait waits instead'],
  [EXIT.SIGNATURE, 'a signature the policy requires is missing or invalid (check signature)'],
  [EXIT.REFUSED, 'another preflight check refused the update (E_PREFLIGHT)'],
  [EXIT.INTERNAL, 'an internal error: a bug in ostree-ts'],
  [EXIT.INCONCLUSIVE, 'health-check: a required check was inconclusive (no try used, no reboot)'],
  [EXIT.NOTHING_TO_DO, 'upgrade --check: no update available (also when the newest commit is quarantined)'],
];

/** The exit-status convention of a command: `atomic`'s table, or `ostree`'s 0 and 1 (plus 70 for a bug). */
export type ExitConvention = 'ostree' | 'atomic';

export function exitStatusOf(e: unknown, convention: ExitConvention): number {
  let status: number = EXIT.FAILURE;
  if (isCodedError(e)) {
    status = STATUS_OF_CODE[e.code] ?? EXIT.FAILURE;
    // A refused signature is one, whether found by a preflight check or by a verification.
    if (e.code === Codes.PREFLIGHT && e.data.check === 'signature') status = EXIT.SIGNATURE;
  }
  else if (!isErrno(e)) status = EXIT.INTERNAL;
  if (convention === 'ostree' && status !== EXIT.INTERNAL) return EXIT.FAILURE;
  return status;
}

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && 'code' in e && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/** How the command line gives an option the library named in `data.hint`. */
const OPTION_ADVICE: Record<string, (value?: string) => string> = {
  branch: () => 'pass -b BRANCH, or --orphan for a commit without a ref',
  union: () => 'pass --union to merge into it',
  tarAutocreateParents: () => 'pass --tar-autocreate-parents to create missing parents as 0755 directories',
  canonicalPermissions: () => 'pass --canonical-permissions',
  repo: () => 'pass --repo=PATH (or set OSTREE_REPO)',
  sysroot: () => 'pass --sysroot=DIR',
  lockWait: () => 'pass --lock-wait to wait for it',
  allowDowngrade: () => 'pass --allow-downgrade to deploy it anyway',
  timestampCheck: () => 'pull without --timestamp-check (-T) to accept it',
  staticDeltas: (v) => (v === 'disable' ? 'pass --disable-static-deltas to fetch plain objects' : 'pull without --require-static-deltas'),
  disableVerifyBindings: () => 'pass --disable-verify-bindings to accept it',
  gpgKeyFile: () => 'pass --gpg-key-file=FILE with the exported secret key',
  tarMaxBytes: () => 'pass --tar-max-size=SIZE to raise the limit',
};

/** What the command line adds to a library error: its flags for the next step. */
export function adviceFor(e: OstreeTsError): string | null {
  let hint: ErrorHint | undefined = e.hint;
  // Errors whose next step is a flag the library cannot name, recognised by code and facts.
  if (!hint && e.code === Codes.PREFLIGHT && e.data.check === 'downgrade') hint = { option: 'allowDowngrade' };
  if (!hint && e.code === Codes.ARCHIVE_TOO_LARGE) hint = { option: 'tarMaxBytes' };
  if (!hint && e.code === Codes.KEY && typeof e.data.keyId === 'string' && Array.isArray(e.data.locations)) hint = { option: 'gpgKeyFile' };
  const advice = hint ? OPTION_ADVICE[hint.option] : undefined;
  return advice ? advice(hint?.value) : null;
}

export interface ReportOptions {
  /** Also print the error as a `kind: Error` document on stdout. */
  json?: boolean;
  /** Print stack traces. */
  verbose?: boolean;
  convention: ExitConvention;
  /** For usage errors: the command whose --help to point at (`ostree-ts commit`). */
  usageOf?: string;
}

const BUG = 'This is a bug in ostree-ts; please report it with the command you ran and this message';

/**
 * Print `e` for people on stderr (and, with `json`, as a `kind: Error`
 * document on stdout); returns the exit status.
 */
export function reportError(e: unknown, opts: ReportOptions): number {
  const status = exitStatusOf(e, opts.convention);
  const stack = (): string => (e instanceof Error && e.stack ? `${e.stack}\n` : '');
  let doc: { code: string; message: string; data: Record<string, unknown> };
  if (isCodedError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    const advice = adviceFor(e);
    if (advice) process.stderr.write(`hint: ${advice}.\n`);
    if (e.code === Codes.USAGE && e.data.parser === true) process.stderr.write(`Run '${opts.usageOf ?? 'ostree-ts'} --help' for usage.\n`);
    if (isInternalError(e)) {
      process.stderr.write(`${BUG}${opts.verbose ? '' : ' (--verbose adds the stack trace)'}.\n`);
      if (opts.verbose) process.stderr.write(stack());
    } else if (opts.verbose || process.env.OSTREE_TS_DEBUG) process.stderr.write(stack());
    doc = e.toJSON();
  } else if (isErrno(e)) {
    process.stderr.write(`error: ${e.syscall} ${e.path ?? ''}: ${e.code} (${e.message})\n`);
    if (opts.verbose) process.stderr.write(stack());
    doc = { code: Codes.IO, message: e.message, data: { errno: e.code, syscall: e.syscall, path: e.path ?? null } };
  } else {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: unexpected failure: ${message}\n${BUG}${opts.verbose ? '' : ' (--verbose adds the stack trace)'}.\n`);
    if (opts.verbose) process.stderr.write(stack());
    doc = { code: Codes.INTERNAL, message, data: {} };
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(document('Error', { error: doc }), null, 2)}\n`);
  return status;
}

/** A warning for people: the sink the CLI gives library calls that take `onWarning`. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}
