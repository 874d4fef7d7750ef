/**
 * Coded errors. Every error a user can meet carries a stable `code`, the facts
 * (`data`) that identify the object or file concerned, and a message that says
 * what to do next. Messages speak of the library's concepts, never of one
 * front end's flags: when the next step is an option of the call that failed,
 * `data.hint` names it and the front end (the CLI) says how to give it.
 */

export type ErrorData = Record<string, unknown>;

/**
 * The next step, when it is an option of the call that failed: the option as
 * spelled in that call's options object (`lockWait`, `union`), and the value
 * to give it when that is not simply `true`.
 */
export interface ErrorHint {
  option: string;
  value?: string;
}

export class OstreeTsError extends Error {
  readonly code: string;
  readonly data: ErrorData;

  constructor(code: string, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OstreeTsError';
    this.code = code;
    this.data = data;
  }

  /** The hint in `data`, when there is one. */
  get hint(): ErrorHint | undefined {
    const h = this.data.hint as ErrorHint | undefined;
    return h && typeof h.option === 'string' ? h : undefined;
  }

  toJSON(): { code: string; message: string; data: ErrorData } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * An impossible state: a broken internal contract, a bug in ostree-ts rather
 * than a problem with the input. Front ends report it as a bug.
 */
export class InternalError extends OstreeTsError {
  constructor(message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super('E_INTERNAL', `Internal error: ${message}`, data, options);
    this.name = 'InternalError';
  }
}

export const Codes = {
  GVARIANT_INVALID: 'E_GVARIANT_INVALID',
  OBJECT_INVALID: 'E_OBJECT_INVALID',
  OBJECT_CORRUPT: 'E_OBJECT_CORRUPT',
  OBJECT_MISSING: 'E_OBJECT_MISSING',
  INVALID_NAME: 'E_INVALID_NAME',
  INVALID_CHECKSUM: 'E_INVALID_CHECKSUM',
  INVALID_REF: 'E_INVALID_REF',
  REF_NOT_FOUND: 'E_REF_NOT_FOUND',
  /** A commit whose ref or collection binding does not allow it under the name asked for. */
  REF_BINDING: 'E_REF_BINDING',
  REPO_NOT_FOUND: 'E_REPO_NOT_FOUND',
  REPO_CONFIG: 'E_REPO_CONFIG',
  REPO_EXISTS: 'E_REPO_EXISTS',
  UNSUPPORTED_FILE_TYPE: 'E_UNSUPPORTED_FILE_TYPE',
  UNSUPPORTED_MODE: 'E_UNSUPPORTED_MODE',
  USAGE: 'E_USAGE',
  EXISTS: 'E_EXISTS',
  NOT_FOUND: 'E_NOT_FOUND',
  IO: 'E_IO',
  ARCHIVE_INVALID: 'E_ARCHIVE_INVALID',
  ARCHIVE_UNSAFE: 'E_ARCHIVE_UNSAFE',
  ARCHIVE_TOO_LARGE: 'E_ARCHIVE_TOO_LARGE',
  TREE_CONFLICT: 'E_TREE_CONFLICT',
  GIT: 'E_GIT',
  SIGNATURE: 'E_SIGNATURE',
  KEY: 'E_KEY',
  DELTA_INVALID: 'E_DELTA_INVALID',
  DOWNGRADE: 'E_DOWNGRADE',
  SYSROOT_INVALID: 'E_SYSROOT_INVALID',
  LOCKED: 'E_LOCKED',
  /** A native addon ostree-ts needs (the OFD lock) is not built or does not load. */
  NATIVE_MISSING: 'E_NATIVE_MISSING',
  PREFLIGHT: 'E_PREFLIGHT',
  /** ENOSPC or EDQUOT, or the repository's core.min-free-space-* floor reached. */
  NO_SPACE: 'E_NO_SPACE',
  /** An operation (a pull) past the time it was allowed. */
  TIMEOUT: 'E_TIMEOUT',
  /** A fault point a test asked for was reached (repo/fault-points.ts). */
  FAULT_POINT: 'E_FAULT_POINT',
  /** A configuration file of the host updater (atomic.conf) holds a value it does not accept. */
  CONFIG: 'E_CONFIG',
  /** A health check cannot be run as it stands (not executable, not a file). */
  HEALTH_CHECK: 'E_HEALTH_CHECK',
  /** A commit in quarantine (it failed its boot assessment) was asked for. */
  QUARANTINED: 'E_QUARANTINED',
  /** A recipe that does not read or validate: its file, line and column are in data. */
  RECIPE: 'E_RECIPE',
  /** A compose step that failed (a source, a postprocess script, a convention the tree breaks): the step is in data. */
  COMPOSE: 'E_COMPOSE',
  INTERNAL: 'E_INTERNAL',
} as const;

export function isCodedError(e: unknown): e is OstreeTsError {
  return e instanceof OstreeTsError;
}

export function isInternalError(e: unknown): e is InternalError {
  return isCodedError(e) && e.code === Codes.INTERNAL;
}
