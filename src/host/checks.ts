/**
 * Health checks in greenboot's layout: executables in
 * `usr/lib/greenboot/check/{required.d,wanted.d}` (shipped in the image) and
 * `etc/greenboot/check/{required.d,wanted.d}` (the host's own), then
 * `green.d` or `red.d` after the verdict; each directory in name order,
 * /usr/lib before /etc, so existing greenboot scripts work unchanged.
 *
 * A check passes with exit status 0, is inconclusive with the configured
 * code (75, EX_TEMPFAIL, by default: "cannot tell", such as no network),
 * and fails with anything else, or when it runs past its timeout (its whole
 * process group is killed then). Its output is kept, up to a bound.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp, isErrno, path } from '../io/fs.js';
import { inheritedEnv, runProcess } from '../io/process.js';

export type CheckClass = 'required' | 'wanted';
export type CheckOutcome = 'pass' | 'fail' | 'inconclusive' | 'timeout';

/** One check's result, as the record and `atomic status` keep it. */
export interface CheckRun {
  name: string;
  class: CheckClass;
  result: CheckOutcome;
  seconds: number;
  output: string;
}

export interface FoundScript {
  /** The file name (what sorts, and what `[check NAME]` in atomic.conf names). */
  name: string;
  /** Absolute path. */
  file: string;
}

export type ScriptDir = 'required.d' | 'wanted.d' | 'green.d' | 'red.d';

/** Where a kind of script lives in a deployment, in the order they run. */
export function scriptDirs(deployRoot: string, kind: ScriptDir): string[] {
  const sub = kind === 'required.d' || kind === 'wanted.d' ? ['check', kind] : [kind];
  return [path.join(deployRoot, 'usr', 'lib', 'greenboot', ...sub), path.join(deployRoot, 'etc', 'greenboot', ...sub)];
}

/**
 * The scripts of one kind, in run order. Hidden files are ignored, and a
 * link to /dev/null masks a script (as systemd masks units). Anything else
 * that is not an executable file is refused, naming it, before any script
 * runs.
 */
export async function findScripts(deployRoot: string, kind: ScriptDir): Promise<FoundScript[]> {
  const out: FoundScript[] = [];
  for (const dir of scriptDirs(deployRoot, kind)) {
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).sort();
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) continue;
      throw e;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = path.join(dir, name);
      const link = await fsp.readlink(file).catch(() => null);
      if (link === '/dev/null') continue;
      const st = await fsp.stat(file).catch(() => null);
      const rel = path.relative(deployRoot, file);
      if (!st) {
        throw new OstreeTsError(Codes.HEALTH_CHECK, `The health check ${rel} in ${deployRoot} is a link to ${link ?? 'nothing'}, which does not exist. Fix the link, or remove it; no check was run.`, { file, check: name });
      }
      if (st.isDirectory()) continue;
      if (!st.isFile()) {
        throw new OstreeTsError(Codes.HEALTH_CHECK, `The health check ${rel} in ${deployRoot} is not a regular file. Remove it; no check was run.`, { file, check: name });
      }
      if ((st.mode & 0o111) === 0) {
        throw new OstreeTsError(Codes.HEALTH_CHECK, `The health check ${rel} in ${deployRoot} is not executable (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}). Make it executable (chmod +x) or remove it; no check was run.`, { file, check: name, mode: st.mode & 0o7777 });
      }
      out.push({ name, file });
    }
  }
  return out;
}

export interface RunScriptsOptions {
  /** The deployment's root: the working directory of every script. */
  deployRoot: string;
  /** Variables given to every script, on top of this process's environment. */
  env: Record<string, string>;
  /** Seconds each may run (default), and per script name. */
  timeout: number;
  timeouts?: Record<string, number>;
  inconclusiveCode: number;
  maxOutput: number;
}

function describeEnd(r: Awaited<ReturnType<typeof runProcess>>, timeout: number): string {
  if (r.spawnError) return `could not be run: ${r.spawnError.code ?? ''} ${r.spawnError.message}`.trim();
  if (r.timedOut) return `killed after its timeout of ${timeout} s, with its process group`;
  if (r.signal) return `ended by signal ${r.signal}`;
  return `exited with status ${r.code}`;
}

/** Run scripts one after another (each to its end or its timeout). */
export async function runScripts(scripts: FoundScript[], cls: CheckClass, o: RunScriptsOptions, onResult?: (r: CheckRun) => void, stopAtFailure = false): Promise<CheckRun[]> {
  const out: CheckRun[] = [];
  const base = inheritedEnv();
  for (const s of scripts) {
    const timeout = o.timeouts?.[s.name] ?? o.timeout;
    const r = await runProcess(s.file, [], { cwd: o.deployRoot, env: { ...base, ...o.env }, timeoutMs: timeout * 1000, maxOutput: o.maxOutput });
    let result: CheckOutcome;
    if (r.timedOut) result = 'timeout';
    else if (r.code === 0) result = 'pass';
    else if (r.code === o.inconclusiveCode) result = 'inconclusive';
    else result = 'fail';
    let output = r.output.toString('utf8');
    if (r.dropped) output += `\n[${r.dropped} more bytes of output not kept]`;
    if (result !== 'pass' && result !== 'inconclusive') output += `${output && !output.endsWith('\n') ? '\n' : ''}[${s.name} ${describeEnd(r, timeout)}]`;
    const run: CheckRun = { name: s.name, class: cls, result, seconds: Math.round(r.ms) / 1000, output };
    out.push(run);
    onResult?.(run);
    if (stopAtFailure && (result === 'fail' || result === 'timeout')) break;
  }
  return out;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** All required passed: pass; one failed or timed out: fail; otherwise (one could not tell): inconclusive. Wanted checks never decide. */
export function verdictOf(runs: CheckRun[]): Verdict {
  const req = runs.filter((r) => r.class === 'required');
  if (req.some((r) => r.result === 'fail' || r.result === 'timeout')) return 'fail';
  if (req.some((r) => r.result === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

/** The first required check that decided a failure, in one line: `NAME failed: first line of its output`. */
export function failureReason(runs: CheckRun[]): string | null {
  const r = runs.find((x) => x.class === 'required' && (x.result === 'fail' || x.result === 'timeout'));
  if (!r) return null;
  const first = r.output.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  return `required check ${r.name} ${r.result === 'timeout' ? 'timed out' : 'failed'}${first ? `: ${first}` : ''}`;
}

export interface CheckSuite {
  checks: CheckRun[];
  verdict: Verdict;
}

/**
 * Every required check (the first failure skips the required ones after it,
 * as greenboot does), then every wanted one; the verdict. Scripts that are
 * not executable are refused before any runs.
 */
export async function runHealthChecks(o: RunScriptsOptions, onResult?: (r: CheckRun) => void): Promise<CheckSuite> {
  const required = await findScripts(o.deployRoot, 'required.d');
  const wanted = await findScripts(o.deployRoot, 'wanted.d');
  const checks = [
    ...(await runScripts(required, 'required', o, onResult, true)),
    ...(await runScripts(wanted, 'wanted', o, onResult)),
  ];
  return { checks, verdict: verdictOf(checks) };
}
