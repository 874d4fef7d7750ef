/**
 * Quarantine: commits that failed their boot assessment (the bootloader
 * fell back from them, or their checks failed on every try). An update
 * refuses a quarantined commit (preflight check `quarantine`) until a newer
 * commit appears on the ref, or the quarantine is cleared. The list lives
 * in the assessment record, beside each deployment's state.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { readAssessment, updateAssessment, type AssessmentRecord, type QuarantineEntry } from '../sysroot/assessment.js';
import { requireSysroot } from '../sysroot/state.js';
import { underLock, type HostVerbOptions } from './common.js';

export type { QuarantineEntry };

/** The entry quarantining `commit`, if there is one. */
export function quarantined(r: Pick<AssessmentRecord, 'quarantine'>, commit: string): QuarantineEntry | undefined {
  return r.quarantine.find((q) => q.commit === commit);
}

/** Put a commit in quarantine (once: a second failure of the same commit keeps the first entry, its reason updated). */
export function addToQuarantine(r: AssessmentRecord, entry: QuarantineEntry): void {
  const have = quarantined(r, entry.commit);
  if (have) {
    have.reason = entry.reason;
    return;
  }
  r.quarantine.push(entry);
}

export async function listQuarantine(opts: Pick<HostVerbOptions, 'sysroot'>): Promise<QuarantineEntry[]> {
  const root = await requireSysroot(opts.sysroot);
  return (await readAssessment(root)).quarantine;
}

export interface ClearOptions extends HostVerbOptions {
  /** A commit checksum, or a prefix naming exactly one entry; absent: every entry. */
  commit?: string;
}

/** Take commits out of quarantine; returns the entries removed. */
export async function clearQuarantine(opts: ClearOptions): Promise<QuarantineEntry[]> {
  return underLock(opts, 'atomic quarantine clear', async (root) => {
    let removed: QuarantineEntry[] = [];
    await updateAssessment(root, (r) => {
      if (opts.commit === undefined) {
        removed = r.quarantine;
        r.quarantine = [];
        return r;
      }
      const want = opts.commit.toLowerCase();
      const hits = r.quarantine.filter((q) => q.commit.startsWith(want));
      if (hits.length !== 1) {
        const listed = r.quarantine.map((q) => q.commit).join(', ') || 'none';
        throw new OstreeTsError(Codes.NOT_FOUND,
          hits.length ? `${opts.commit} names ${hits.length} quarantined commits (${hits.map((q) => q.commit).join(', ')}); give more of the checksum. Nothing was changed.`
            : `No quarantined commit ${opts.commit} in ${root} (quarantined: ${listed}). See 'atomic quarantine list'. Nothing was changed.`,
          { commit: opts.commit, quarantined: r.quarantine.map((q) => q.commit) });
      }
      removed = hits;
      r.quarantine = r.quarantine.filter((q) => q !== hits[0]);
      return r;
    });
    return removed;
  });
}
