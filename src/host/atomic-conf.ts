/**
 * The host updater's own configuration: `etc/ostree-ts/atomic.conf` under
 * the sysroot (a key file), plus libostree's `[sysroot] boot-counting-tries`
 * in the system repository's config. Every value is checked when read: a
 * bad one is refused naming the file, the key and what it may be, before
 * anything is changed.
 *
 * ```
 * [boot]
 * tries=3                  # boot attempts a new default gets (0: no boot counting)
 * backend=bls              # bls | grub | systemd-boot
 * esp=/boot/efi            # the EFI system partition (systemd-boot)
 *
 * [health-check]
 * timeout=60               # seconds a check may run before its process group is killed
 * inconclusive-code=75     # the exit status meaning "cannot tell" (EX_TEMPFAIL)
 * max-output=65536         # bytes of each check's output kept
 * reboot-command=systemctl reboot
 *
 * [check 50-network.sh]    # one check's own timeout
 * timeout=300
 * ```
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { KeyFile } from '../format/keyfile.js';
import { fsp, isErrno, path } from '../io/fs.js';

export type BootBackend = 'bls' | 'grub' | 'systemd-boot';
export const BOOT_BACKENDS: readonly BootBackend[] = ['bls', 'grub', 'systemd-boot'];

export interface AtomicConfig {
  /** The file read (whether or not it exists). */
  file: string;
  /** Boot attempts a new default gets; 0 turns boot counting (and probation) off. */
  tries: number;
  /** Where `tries` came from. */
  triesFrom: 'atomic.conf' | 'repo config' | 'default';
  backend: BootBackend;
  /** The EFI system partition as a path inside the sysroot (`/boot/efi`; systemd-boot); null: not configured (then /boot/efi, else /efi). */
  esp: string | null;
  /** Seconds a check may run. */
  checkTimeout: number;
  /** Per check (by file name): its own timeout in seconds. */
  checkTimeouts: Record<string, number>;
  inconclusiveCode: number;
  maxOutput: number;
  /** The command that reboots the machine, split into words. */
  rebootCommand: string[];
}

export const DEFAULT_TRIES = 3;
export const MAX_TRIES = 99;

/** The configuration file's place under a sysroot. */
export function atomicConfPath(root: string): string {
  return path.join(root, 'etc', 'ostree-ts', 'atomic.conf');
}

function intValue(kf: KeyFile, file: string, group: string, key: string, min: number, max: number, unit: string): number | undefined {
  const raw = kf.get(group, key);
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (!/^-?[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new OstreeTsError(Codes.CONFIG,
      `${file}: [${group}] ${key}=${raw} is not allowed: it must be a whole number of ${unit} from ${min} to ${max}. Fix that line; nothing was changed.`,
      { file, group, key, value: raw, min, max });
  }
  return Number(v);
}

/** Split a command line on blanks, with '…' and "…" quoting (no other shell syntax). */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let any = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (quote) throw new Error(`unterminated ${quote}`);
  if (cur || any) out.push(cur);
  return out;
}

const KNOWN: Record<string, string[]> = {
  boot: ['tries', 'backend', 'esp'],
  'health-check': ['timeout', 'inconclusive-code', 'max-output', 'reboot-command'],
};

/** Read and check atomic.conf (missing: the defaults) and the repository's boot-counting-tries. */
export async function readAtomicConfig(root: string, repoConfig?: KeyFile | null): Promise<AtomicConfig> {
  const file = atomicConfPath(root);
  let text: string | null = null;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  return parseAtomicConfig(text, file, repoConfig);
}

/** Check atomic.conf's text (null: there is none) read from `file`, with the repository's config beside it. */
export function parseAtomicConfig(text: string | null, file: string, repoConfig?: KeyFile | null): AtomicConfig {
  let kf = new KeyFile();
  if (text !== null) {
    try {
      kf = KeyFile.parse(text, file);
    } catch (e) {
      if (e instanceof OstreeTsError) throw new OstreeTsError(Codes.CONFIG, e.message, { ...e.data, file }, { cause: e });
      throw e;
    }
  }
  for (const g of kf.groups) {
    const known = KNOWN[g.name] ?? (g.name.startsWith('check ') ? ['timeout'] : null);
    if (!known) {
      throw new OstreeTsError(Codes.CONFIG, `${file}: unknown group [${g.name}]. The groups are [boot], [health-check] and [check NAME]; fix or remove it. Nothing was changed.`, { file, group: g.name });
    }
    for (const l of g.lines) {
      if (l.kind === 'entry' && !known.includes(l.key)) {
        throw new OstreeTsError(Codes.CONFIG, `${file}: unknown key ${l.key} in [${g.name}]; it takes ${known.join(', ')}. Fix or remove it. Nothing was changed.`, { file, group: g.name, key: l.key });
      }
    }
  }

  let tries = intValue(kf, file, 'boot', 'tries', 0, MAX_TRIES, 'boot attempts');
  let triesFrom: AtomicConfig['triesFrom'] = 'atomic.conf';
  if (tries === undefined && repoConfig) {
    const repoFile = repoConfig.source;
    tries = intValue(repoConfig, repoFile, 'sysroot', 'boot-counting-tries', 0, MAX_TRIES, 'boot attempts');
    triesFrom = 'repo config';
  }
  if (tries === undefined) {
    tries = DEFAULT_TRIES;
    triesFrom = 'default';
  }

  const backendRaw = kf.get('boot', 'backend')?.trim();
  if (backendRaw !== undefined && !BOOT_BACKENDS.includes(backendRaw as BootBackend)) {
    throw new OstreeTsError(Codes.CONFIG, `${file}: [boot] backend=${backendRaw} is not allowed: it must be one of ${BOOT_BACKENDS.join(', ')}. Fix that line; nothing was changed.`, { file, group: 'boot', key: 'backend', value: backendRaw, allowed: BOOT_BACKENDS });
  }
  const backend = (backendRaw ?? 'bls') as BootBackend;

  let esp: string | null = null;
  const espRaw = kf.get('boot', 'esp')?.trim();
  if (espRaw !== undefined) {
    if (!espRaw.startsWith('/') || espRaw.split('/').includes('..')) {
      throw new OstreeTsError(Codes.CONFIG, `${file}: [boot] esp=${espRaw} is not allowed: it must be an absolute path (as the host sees it, such as /boot/efi) without '..'. Fix that line; nothing was changed.`, { file, group: 'boot', key: 'esp', value: espRaw });
    }
    esp = path.posix.normalize(espRaw);
  }

  const checkTimeout = intValue(kf, file, 'health-check', 'timeout', 1, 86_400, 'seconds') ?? 60;
  const inconclusiveCode = intValue(kf, file, 'health-check', 'inconclusive-code', 1, 255, 'exit statuses') ?? 75;
  const maxOutput = intValue(kf, file, 'health-check', 'max-output', 256, 16 * 1024 * 1024, 'bytes') ?? 64 * 1024;
  const rebootRaw = kf.get('health-check', 'reboot-command');
  let rebootCommand = ['systemctl', 'reboot'];
  if (rebootRaw !== undefined) {
    let words: string[] = [];
    try {
      words = splitCommand(rebootRaw);
    } catch {
      // Reported below as empty.
    }
    if (!words.length || !words[0]) {
      throw new OstreeTsError(Codes.CONFIG, `${file}: [health-check] reboot-command=${rebootRaw} is not a command: give a program and its arguments (such as systemctl reboot). Fix that line; nothing was changed.`, { file, group: 'health-check', key: 'reboot-command', value: rebootRaw });
    }
    rebootCommand = words;
  }
  const checkTimeouts: Record<string, number> = {};
  for (const g of kf.groups) {
    if (!g.name.startsWith('check ')) continue;
    const name = g.name.slice('check '.length).trim();
    const t = intValue(kf, file, g.name, 'timeout', 1, 86_400, 'seconds');
    if (t !== undefined) checkTimeouts[name] = t;
  }
  return { file, tries, triesFrom, backend, esp, checkTimeout, checkTimeouts, inconclusiveCode, maxOutput, rebootCommand };
}
