/**
 * The probation record: the assessment of each deployment (untested with N
 * tries, good, failed and why; the health checks of every boot attempt) and
 * the quarantined commits, in one small JSON file under the sysroot,
 * `ostree/atomic/assessment.json`. libostree never touches `ostree/atomic`,
 * so the record survives `ostree admin cleanup` and `deploy`. It is replaced
 * whole (temporary file, fsync, rename, directory fsync); callers hold the
 * sysroot lock.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { atomicWriteFile, fsp, isErrno, path } from '../io/fs.js';
import type { Deployment } from './state.js';

export type AssessmentState = 'untested' | 'good' | 'failed';

/** One health check of one boot attempt (also exported as AssessmentCheckResult, beside the preflight checks' CheckResult). */
export interface CheckResult {
  name: string;
  class: 'required' | 'wanted';
  result: 'pass' | 'fail' | 'inconclusive' | 'timeout';
  seconds: number;
  /** Its stdout and stderr, bounded. */
  output: string;
}

export type AssessmentCheckResult = CheckResult;

export interface AssessmentAttempt {
  /** ISO time of the attempt. */
  at: string;
  verdict: 'pass' | 'fail' | 'inconclusive' | 'did-not-boot';
  checks?: CheckResult[];
}

export interface DeploymentAssessment {
  state: AssessmentState;
  /** The tries it was given when its probation started. */
  tries: number;
  /** Why it failed (or what is known of its state). */
  reason?: string;
  /** The checks of the last attempt. */
  checks?: CheckResult[];
  attempts?: AssessmentAttempt[];
  /** ISO time of the last change of state. */
  since: string;
}

export interface QuarantineEntry {
  commit: string;
  ref?: string;
  version?: string;
  reason: string;
  since: string;
}

export interface AssessmentRecord {
  version: 1;
  /** Keyed by `deploymentKey`: `OSNAME/CHECKSUM.SERIAL`. */
  deployments: Record<string, DeploymentAssessment>;
  quarantine: QuarantineEntry[];
}

/** The record's place, relative to the sysroot. */
export const ASSESSMENT_FILE = 'ostree/atomic/assessment.json';

export function assessmentPath(root: string): string {
  return path.join(root, ASSESSMENT_FILE);
}

/** `OSNAME/CHECKSUM.SERIAL`: how the record names a deployment. */
export function deploymentKey(d: Pick<Deployment, 'osname' | 'csum' | 'deployserial'>): string {
  return `${d.osname}/${d.csum}.${d.deployserial}`;
}

export function emptyAssessment(): AssessmentRecord {
  return { version: 1, deployments: {}, quarantine: [] };
}

const STATES = new Set(['untested', 'good', 'failed']);
const VERDICTS = new Set(['pass', 'fail', 'inconclusive', 'did-not-boot']);
const RESULTS = new Set(['pass', 'fail', 'inconclusive', 'timeout']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkChecks(v: unknown): string | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) return 'checks is not a list';
  for (const c of v) {
    if (!isObj(c) || typeof c.name !== 'string' || (c.class !== 'required' && c.class !== 'wanted') || !RESULTS.has(c.result as string)
      || typeof c.seconds !== 'number' || typeof c.output !== 'string') return 'a check lacks name, class, result, seconds or output';
  }
  return null;
}

/** What is wrong with a parsed record, or null when it is one. */
function validate(v: unknown): string | null {
  if (!isObj(v)) return 'it is not a JSON object';
  if (v.version !== 1) return `its version is ${JSON.stringify(v.version)}, not 1`;
  if (!isObj(v.deployments)) return 'deployments is not an object';
  for (const [k, d] of Object.entries(v.deployments)) {
    if (!/^[^/]+\/[0-9a-f]{64}\.[0-9]+$/.test(k)) return `'${k}' does not name a deployment (OSNAME/CHECKSUM.SERIAL)`;
    if (!isObj(d) || !STATES.has(d.state as string)) return `${k} has no state untested, good or failed`;
    if (typeof d.tries !== 'number' || !Number.isInteger(d.tries) || d.tries < 0) return `${k} has no whole number of tries`;
    if (typeof d.since !== 'string') return `${k} has no since`;
    if (d.reason !== undefined && typeof d.reason !== 'string') return `${k}: reason is not a string`;
    const cc = checkChecks(d.checks);
    if (cc) return `${k}: ${cc}`;
    if (d.attempts !== undefined) {
      if (!Array.isArray(d.attempts)) return `${k}: attempts is not a list`;
      for (const a of d.attempts) {
        if (!isObj(a) || typeof a.at !== 'string' || !VERDICTS.has(a.verdict as string)) return `${k}: an attempt lacks at or verdict`;
        const ac = checkChecks(a.checks);
        if (ac) return `${k}: ${ac}`;
      }
    }
  }
  if (!Array.isArray(v.quarantine)) return 'quarantine is not a list';
  for (const q of v.quarantine) {
    if (!isObj(q) || typeof q.commit !== 'string' || !/^[0-9a-f]{64}$/.test(q.commit) || typeof q.reason !== 'string' || typeof q.since !== 'string') {
      return 'a quarantine entry lacks commit, reason or since';
    }
  }
  return null;
}

/** Parse a record's bytes; a coded error naming `file` when they are not one. */
export function parseAssessment(text: string, file: string): AssessmentRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `The boot assessment record ${file} is not valid JSON (${(e as Error).message}). Move it aside to start a new one (the states of the deployments and the quarantine are then forgotten).`, { file }, { cause: e });
  }
  const why = validate(v);
  if (why) throw new OstreeTsError(Codes.SYSROOT_INVALID, `The boot assessment record ${file} is damaged: ${why}. Move it aside to start a new one (the states of the deployments and the quarantine are then forgotten).`, { file });
  return v as AssessmentRecord;
}

/** The record; an empty one when the file does not exist. */
export async function readAssessment(root: string): Promise<AssessmentRecord> {
  const file = assessmentPath(root);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return emptyAssessment();
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `The boot assessment record ${file} cannot be read (${(e as Error).message}). Make it a readable file, or move it aside to start a new one.`, { file }, { cause: e });
  }
  return parseAssessment(text, file);
}

/** Replace the record (temporary file, fsync, rename). */
export async function writeAssessment(root: string, record: AssessmentRecord): Promise<void> {
  const file = assessmentPath(root);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await atomicWriteFile(file, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Read, change, write back in one atomic replacement. `fn` may change the
 * record in place (returning nothing) or return a new one. The caller holds
 * the sysroot lock.
 */
export async function updateAssessment(root: string, fn: (r: AssessmentRecord) => AssessmentRecord | void): Promise<AssessmentRecord> {
  const current = await readAssessment(root);
  const next = fn(current) ?? current;
  const why = validate(next);
  if (why) throw new InternalError(`a change to the boot assessment record would leave it invalid (${why})`, { file: assessmentPath(root) });
  await writeAssessment(root, next);
  return next;
}
