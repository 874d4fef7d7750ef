/**
 * What `commit` changes or leaves out as it reads a tree: forced owners,
 * canonical permissions, `--statoverride` and `--skip-list`, applied to every
 * path ("/usr/bin/foo"; "/" is the root) as OSTree's commit filter does.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFDIR, S_IFMT, S_IFREG } from '../format/objects.js';

export interface StatInfo {
  mode: number;
  uid: number;
  gid: number;
}

export interface CommitModifierOptions {
  ownerUid?: number;
  ownerGid?: number;
  /** Files and directories 0755 or 0644 (setuid and friends dropped), owner 0:0. */
  canonicalPermissions?: boolean;
  /** `--statoverride` lines: "MODE PATH" adds the bits, "=MODE PATH" sets them (decimal, as OSTree reads them). */
  statOverride?: string;
  /** `--skip-list` lines: one path per line. */
  skipList?: string;
  /** Regular files with an executable bit lose their write bits (`--mode-ro-executables`). */
  modeRoExecutables?: boolean;
}

/**
 * The modifier's rules that hold for every path alike (no statoverride), as
 * plain data: a worker thread applies them with `applyRules`.
 */
export interface UniformRules {
  ownerUid?: number;
  ownerGid?: number;
  canonical: boolean;
  roExecutables: boolean;
}

/** The owner and mode bits as committed under `rules` (after any statoverride). */
export function applyRules(rules: UniformRules, st: StatInfo): StatInfo {
  let { mode, uid, gid } = st;
  if (rules.ownerUid !== undefined) uid = rules.ownerUid;
  if (rules.ownerGid !== undefined) gid = rules.ownerGid;
  if (rules.canonical) {
    const fmt = mode & S_IFMT;
    if (fmt === S_IFREG) mode = mode & (S_IFREG | 0o755);
    else if (fmt === S_IFDIR) mode = mode & (S_IFDIR | 0o755);
    uid = 0;
    gid = 0;
  }
  if (rules.roExecutables && (mode & S_IFMT) === S_IFREG && (mode & 0o111) !== 0) mode &= ~0o222;
  return { mode, uid, gid };
}

export class CommitModifier {
  readonly ownerUid: number | undefined;
  readonly ownerGid: number | undefined;
  readonly canonical: boolean;
  readonly roExecutables: boolean;
  private readonly modeAdds = new Map<string, number>();
  private readonly modeSets = new Map<string, number>();
  private readonly skip = new Set<string>();

  constructor(opts: CommitModifierOptions = {}, forceCanonical = false) {
    this.ownerUid = opts.ownerUid;
    this.ownerGid = opts.ownerGid;
    this.canonical = forceCanonical || opts.canonicalPermissions === true;
    this.roExecutables = opts.modeRoExecutables === true;
    if (opts.statOverride !== undefined) {
      for (const line of lines(opts.statOverride)) {
        const sp = line.indexOf(' ');
        if (sp < 0) throw new OstreeTsError(Codes.USAGE, `Malformed statoverride line "${line}": expected "MODE PATH" or "=MODE PATH".`, { line });
        const path = line.slice(sp + 1);
        if (line.startsWith('=')) this.modeSets.set(path, parseDecimal(line.slice(1, sp), line));
        else this.modeAdds.set(path, parseDecimal(line.slice(0, sp), line));
      }
    }
    if (opts.skipList !== undefined) for (const line of lines(opts.skipList)) this.skip.add(line);
  }

  /** True when nothing would be changed: the fast paths may skip calling `apply`. */
  get isIdentity(): boolean {
    return this.ownerUid === undefined && this.ownerGid === undefined && !this.canonical && !this.roExecutables
      && this.modeAdds.size === 0 && this.modeSets.size === 0 && this.skip.size === 0;
  }

  /** Does the skip list name `path`? (Consumes the entry, as OSTree does.) */
  skips(path: string): boolean {
    if (!this.skip.delete(path)) return false;
    this.modeAdds.delete(path); // OSTree applies (and so consumes) a statoverride before it skips
    return true;
  }

  /** The stat as committed (ask `skips` first). `mode` includes the file type bits. */
  apply(path: string, st: StatInfo): StatInfo {
    let mode = st.mode;
    const add = this.modeAdds.get(path);
    if (add !== undefined) {
      mode = mode | add;
      this.modeAdds.delete(path);
    } else {
      const set = this.modeSets.get(path);
      if (set !== undefined) mode = (mode & S_IFMT) | set;
    }
    return applyRules(this, { mode, uid: st.uid, gid: st.gid });
  }

  /** The rules as plain data when no path has a rule of its own (no statoverride); else null. */
  uniformRules(): UniformRules | null {
    if (this.modeAdds.size || this.modeSets.size) return null;
    return { ownerUid: this.ownerUid, ownerGid: this.ownerGid, canonical: this.canonical, roExecutables: this.roExecutables };
  }

  /** After the whole tree: every statoverride addition and skip-list path must have matched. */
  checkAllUsed(): void {
    if (this.modeAdds.size) {
      throw new OstreeTsError(Codes.USAGE, `Unmatched statoverride paths: ${[...this.modeAdds.keys()].join(', ')}. Paths are absolute within the tree ("/usr/bin/foo"); fix or remove those lines.`, { paths: [...this.modeAdds.keys()] });
    }
    if (this.skip.size) {
      throw new OstreeTsError(Codes.USAGE, `Unmatched skip-list paths: ${[...this.skip].join(', ')}. Paths are absolute within the tree ("/usr/bin/foo"); fix or remove those lines.`, { paths: [...this.skip] });
    }
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** OSTree reads the mode with g_ascii_strtod: a decimal number ("2048" is the setgid bit). */
function parseDecimal(s: string, line: string): number {
  const n = Number.parseFloat(s);
  if (!Number.isFinite(n)) throw new OstreeTsError(Codes.USAGE, `Malformed statoverride line "${line}": the mode must be a decimal number.`, { line });
  return Math.trunc(n) >>> 0;
}
