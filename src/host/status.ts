/**
 * The host's status document: every deployment with its place (default,
 * booted, pending, rollback), commit, version, timestamp, origin and
 * signature state. One typed, versioned document, rendered as text or JSON.
 */
import { Kargs } from '../format/bls.js';
import { lookup } from '../format/gvariant.js';
import type { HostEnv } from '../io/host-env.js';
// Narrow imports: `atomic status` is called often and must start quickly.
import type { Repo } from '../repo/repo.js';
import {
  deploymentName, isPinned, loadSysroot, openSysrootRepo, sameDeployment, type Deployment, type SysrootState,
} from '../sysroot/state.js';
import { deploymentKey, emptyAssessment, type CheckResult as AssessmentCheck, type DeploymentAssessment, type QuarantineEntry } from '../sysroot/assessment.js';
import { assessDeployments, checkAssessment, type BootAssessmentView } from '../sysroot/bootloader/index.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';

export const STATUS_API_VERSION = 'ostree-ts/v1';

export type SignatureState =
  /** Signed, and the remote's policy verified it. */
  | 'verified'
  /** The remote's policy requires signatures, and this commit's do not verify. */
  | 'invalid'
  /** The origin's remote does not ask for signatures. */
  | 'not-required'
  /** A local origin (no remote): nothing to check against. */
  | 'local'
  /** The commit or the remote's configuration is missing. */
  | 'unknown';

export interface DeploymentStatus {
  index: number;
  /** CHECKSUM.SERIAL */
  id: string;
  stateroot: string;
  checksum: string;
  serial: number;
  version: string | null;
  /** Commit time, ISO 8601 UTC (null when the commit is missing). */
  timestamp: string | null;
  origin: { refspec: string | null; remote: string | null; ref: string | null; overrideCommit: string | null } | null;
  default: boolean;
  booted: boolean;
  staged: boolean;
  pending: boolean;
  rollback: boolean;
  pinned: boolean;
  bootChecksum: string;
  kernelArguments: string;
  signature: { state: SignatureState; checks: string[]; by: string | null; error: string | null };
  /** Its boot assessment: the record's state (unknown: no record of it), the tries its entry has left, why it failed, the checks of its last boot. */
  assessment: {
    state: 'untested' | 'good' | 'failed' | 'unknown';
    triesLeft: number | null;
    reason: string | null;
    since: string | null;
    checks: AssessmentCheck[];
  };
}

export interface HostStatus {
  apiVersion: typeof STATUS_API_VERSION;
  kind: 'HostStatus';
  sysroot: string;
  /** Whether this machine runs one of these deployments. */
  booted: boolean;
  bootversion: number;
  subbootversion: number;
  deployments: DeploymentStatus[];
  /** Commits refused by updates: they failed their boot assessment here. */
  quarantine: Array<{ commit: string; ref: string | null; version: string | null; reason: string; since: string }>;
  /** The boot back end (atomic.conf [boot] backend). */
  bootBackend: string;
  /** Where the record and the boot files disagree (another tool rewrote the entries, a record entry of a deployment that is gone), each saying what to do. */
  assessmentNotes: string[];
}

/** Kernel arguments as a user reads them: without the `ostree=` that names the deployment. */
export function withoutOstreeArg(kargs: string): string {
  const k = Kargs.parse(kargs);
  k.delete('ostree');
  return k.toString();
}

/** REMOTE:REF or REF. */
export function parseRefspec(refspec: string): { remote: string | null; ref: string } {
  const i = refspec.indexOf(':');
  return i < 0 ? { remote: null, ref: refspec } : { remote: refspec.slice(0, i), ref: refspec.slice(i + 1) };
}

/**
 * Pending and rollback, as libostree names them: of the booted deployment's
 * stateroot, the first deployment before the booted one (the next boot's)
 * is pending, the first after it the rollback. Not booted, neither.
 */
export function places(st: SysrootState): { pending: Deployment | null; rollback: Deployment | null } {
  const b = st.booted;
  if (!b) return { pending: null, rollback: null };
  const same = st.deployments.filter((d) => d.osname === b.osname);
  const i = same.findIndex((d) => sameDeployment(d, b));
  return { pending: i > 0 ? same[0] : null, rollback: i >= 0 && i + 1 < same.length ? same[i + 1] : null };
}

async function signatureOf(repo: Repo, d: Deployment, remote: string | null): Promise<DeploymentStatus['signature']> {
  if (!remote) return { state: 'local', checks: [], by: null, error: null };
  // Loaded only when there is a remote to check against.
  const { remotePolicy, verifyCommit } = await import('../sign/policy.js');
  let policy;
  try {
    policy = await remotePolicy(repo, remote);
  } catch (e) {
    return { state: 'unknown', checks: [], by: null, error: (e as Error).message };
  }
  if (!policy.gpgVerify && !policy.signVerify.length) return { state: 'not-required', checks: [], by: null, error: null };
  try {
    const r = await verifyCommit(repo, d.csum, policy);
    const by = r.ed25519 ? `ed25519 key ${r.ed25519}` : r.gpg ? `GPG key ${r.gpg.keyId.toUpperCase()}` : null;
    return { state: 'verified', checks: r.checked, by, error: null };
  } catch (e) {
    return { state: 'invalid', checks: [], by: null, error: (e as Error).message };
  }
}

export interface HostStatusOptions {
  /** The sysroot (`/` on a host). */
  sysroot: string;
  /** The host it is read on: what booted. */
  env: HostEnv;
  /** Verify each deployment's commit against its remote's policy (default true). */
  signatures?: boolean;
  /** Already loaded (then `sysroot` and `env` are not read again). */
  state?: SysrootState;
  repo?: Repo;
}

export async function hostStatus(opts: HostStatusOptions): Promise<HostStatus> {
  const st = opts.state ?? (await loadSysroot(opts.sysroot, opts.env));
  const repo = opts.repo ?? (await openSysrootRepo(st.root));
  const { pending, rollback } = places(st);
  const notes: string[] = [];
  let conf: Awaited<ReturnType<typeof readAtomicConfig>> | null = null;
  try {
    conf = await readAtomicConfig(st.root, repo.config);
  } catch (e) {
    // Status still shows what is there; the configuration's problem is one of its notes.
    notes.push((e as Error).message);
  }
  const backend = bootBackend(conf ?? { backend: 'bls', esp: null });
  const views = new Map<string, BootAssessmentView>();
  try {
    for (const v of await assessDeployments(st, backend)) views.set(v.key, v);
    notes.push(...(await checkAssessment(st, backend)));
  } catch (e) {
    notes.push((e as Error).message);
  }
  const record = st.assessment ?? emptyAssessment();
  if (st.assessmentProblem) notes.push(st.assessmentProblem);
  const deployments = await Promise.all(st.deployments.map(async (d, index): Promise<DeploymentStatus> => {
    let version: string | null = null;
    let timestamp: string | null = null;
    try {
      const c = await repo.loadCommit(d.csum);
      version = (lookup(c.metadata, 'version', 's') as string | undefined) ?? null;
      timestamp = new Date(Number(c.timestamp) * 1000).toISOString().replace(/\.000Z$/, 'Z');
    } catch {
      // A missing commit is shown as unknown.
    }
    const refspec = d.origin?.get('origin', 'refspec') ?? null;
    const parsed = refspec ? parseRefspec(refspec) : null;
    return {
      index, id: deploymentName(d), stateroot: d.osname, checksum: d.csum, serial: d.deployserial, version, timestamp,
      origin: d.origin ? { refspec, remote: parsed?.remote ?? null, ref: parsed?.ref ?? null, overrideCommit: d.origin.get('origin', 'override-commit') ?? null } : null,
      default: index === 0,
      booted: sameDeployment(d, st.booted),
      staged: d.staged,
      pending: sameDeployment(d, pending),
      rollback: sameDeployment(d, rollback),
      pinned: isPinned(d),
      bootChecksum: d.bootcsum,
      kernelArguments: withoutOstreeArg(d.kargs),
      signature: opts.signatures === false ? { state: 'unknown', checks: [], by: null, error: null } : await signatureOf(repo, d, parsed?.remote ?? null),
      assessment: assessmentOf(d, views, record.deployments[deploymentKey(d)]),
    };
  }));
  return {
    apiVersion: STATUS_API_VERSION, kind: 'HostStatus', sysroot: st.root, booted: st.booted !== null,
    bootversion: st.bootversion, subbootversion: st.subbootversion, deployments,
    quarantine: record.quarantine.map((q: QuarantineEntry) => ({ commit: q.commit, ref: q.ref ?? null, version: q.version ?? null, reason: q.reason, since: q.since })),
    bootBackend: backend.kind, assessmentNotes: notes,
  };
}

function assessmentOf(d: Deployment, views: Map<string, BootAssessmentView>, a: DeploymentAssessment | undefined): DeploymentStatus['assessment'] {
  const v = views.get(deploymentKey(d));
  return {
    state: v?.state ?? a?.state ?? 'unknown',
    triesLeft: v?.triesLeft ?? null,
    reason: v?.reason ?? a?.reason ?? null,
    since: a?.since ?? null,
    checks: a?.checks ?? [],
  };
}

/** The assessment in one line: `good`, `untested, 2 tries left`, `failed: WHY`. */
export function assessmentLine(a: DeploymentStatus['assessment']): string {
  if (a.state === 'failed') return `failed: ${a.reason ?? 'no reason recorded'}`;
  if (a.state === 'untested') return `untested${a.triesLeft !== null ? `, ${a.triesLeft} ${a.triesLeft === 1 ? 'try' : 'tries'} left` : ''}`;
  if (a.state === 'good') return 'good';
  return a.triesLeft !== null ? `unknown (counted: ${a.triesLeft} tries left)` : 'unknown (not assessed)';
}

/** `ostree admin status`, line for line. */
export function renderAdminStatus(s: HostStatus): string {
  if (!s.deployments.length) return 'No deployments.\n';
  let out = '';
  for (const d of s.deployments) {
    const mark = d.staged ? ' (staged)' : d.pending ? ' (pending)' : d.rollback ? ' (rollback)' : '';
    out += `${d.booted ? '*' : ' '} ${d.stateroot} ${d.id}${mark}\n`;
    if (d.version) out += `    Version: ${d.version}\n`;
    if (d.pinned) out += '    Pinned: yes\n';
    if (!d.origin) out += '    origin: none\n';
    else if (!d.origin.refspec) out += '    origin: <unknown origin type>\n';
    else out += `    origin refspec: ${d.origin.refspec}\n`;
  }
  return out;
}

/** `atomic status`: what rpm-ostree and bootc users read. */
export function renderHostStatus(s: HostStatus): string {
  if (!s.deployments.length) return `No deployments in ${s.sysroot}. Deploy one with 'ostree-ts admin deploy'.\n`;
  const rows = (pairs: Array<[string, string | null | undefined]>): string => pairs
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k.padStart(16)}: ${v}\n`).join('');
  let out = `Sysroot: ${s.sysroot}${s.booted ? '' : ' (not booted)'}\nDeployments:\n`;
  for (const d of s.deployments) {
    const marks = [d.default ? 'default' : '', d.staged ? 'staged' : '', d.pending ? 'pending' : '', d.rollback ? 'rollback' : '', d.pinned ? 'pinned' : ''].filter(Boolean);
    const name = d.origin?.refspec ?? d.checksum;
    out += `${d.booted ? '●' : ' '} ${d.stateroot}:${name}${marks.length ? `  (${marks.join(', ')})` : ''}\n`;
    const sig = d.signature;
    const sigText = sig.state === 'verified' ? `verified${sig.by ? ` by ${sig.by}` : ''}`
      : sig.state === 'invalid' ? `INVALID: ${sig.error ?? ''}`
        : sig.state === 'not-required' ? 'not required by the remote' : sig.state === 'local' ? 'none (local origin)' : 'unknown';
    out += rows([
      ['Version', d.version ? `${d.version}${d.timestamp ? ` (${d.timestamp})` : ''}` : d.timestamp],
      ['Commit', d.checksum],
      ['Deployment', d.id],
      ['Origin', d.origin ? d.origin.refspec ?? '<unknown origin type>' : 'none'],
      ['Pinned commit', d.origin?.overrideCommit],
      ['Signature', sigText],
      ['Kernel arguments', d.kernelArguments],
      ['Boot assessment', assessmentLine(d.assessment)],
      ...d.assessment.checks.filter((c) => c.result !== 'pass').map((c): [string, string] => [`${c.class} check`, `${c.name}: ${c.result}${c.output.trim() ? ` (${c.output.trim().split('\n')[0]})` : ''}`]),
    ]);
    out += '\n';
  }
  for (const q of s.quarantine) out += `Quarantined: ${q.commit}${q.version ? ` (version ${q.version})` : ''} since ${q.since}: ${q.reason}\n`;
  for (const n of s.assessmentNotes) out += `Note: ${n}\n`;
  return out;
}
