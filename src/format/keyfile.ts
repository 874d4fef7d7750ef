/**
 * GKeyFile (XDG desktop-entry style) parse and render, keeping order and
 * comments so that a round trip through `config set` changes only one line.
 */
import { Codes, OstreeTsError } from '../errors/index.js';

type Line = { kind: 'comment'; text: string } | { kind: 'entry'; key: string; value: string };

export interface KeyFileGroup {
  name: string;
  lines: Line[];
}

export class KeyFile {
  readonly head: Line[] = [];
  readonly groups: KeyFileGroup[] = [];
  /** The file it was read from, for messages. */
  source = 'key file';

  static parse(text: string, what = 'key file'): KeyFile {
    const kf = new KeyFile();
    kf.source = what;
    let current: KeyFileGroup | null = null;
    const rawLines = text.split('\n');
    rawLines.forEach((raw, i) => {
      const line = raw.replace(/\r+$/, '');
      if (i === rawLines.length - 1 && line === '') return;
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) {
        (current ? current.lines : kf.head).push({ kind: 'comment', text: line });
        return;
      }
      const g = /^\[([^\]\[]+)\]\s*$/.exec(trimmed);
      if (g) {
        current = { name: g[1], lines: [] };
        kf.groups.push(current);
        return;
      }
      const eq = line.indexOf('=');
      // A key is needed before '=' (blanks alone are none: they would be written back as a line with no key).
      const key = eq < 0 ? '' : line.slice(0, eq).trim();
      if (key === '' || !current) {
        throw new OstreeTsError(Codes.REPO_CONFIG, `Cannot parse line ${i + 1} of ${what}: ${JSON.stringify(line)}. Fix or remove that line.`, { file: what, line: i + 1 });
      }
      current.lines.push({ kind: 'entry', key, value: unescapeValue(line.slice(eq + 1).trimStart()) });
    });
    return kf;
  }

  group(name: string): KeyFileGroup | undefined {
    return this.groups.find((g) => g.name === name);
  }

  get(group: string, key: string): string | undefined {
    const g = this.group(group);
    if (!g) return undefined;
    let found: string | undefined;
    for (const l of g.lines) if (l.kind === 'entry' && l.key === key) found = l.value;
    return found;
  }

  getBool(group: string, key: string, dflt: boolean): boolean {
    const v = this.get(group, key);
    if (v === undefined) return dflt;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new OstreeTsError(Codes.REPO_CONFIG, `The value of ${group}.${key} in ${this.source} is '${v}', not a boolean. Set it to true or false.`, { group, key, value: v, file: this.source });
  }

  set(group: string, key: string, value: string): void {
    let g = this.group(group);
    if (!g) {
      g = { name: group, lines: [] };
      const prev = this.groups[this.groups.length - 1];
      if (prev && !(prev.lines.length && prev.lines[prev.lines.length - 1].kind === 'comment')) prev.lines.push({ kind: 'comment', text: '' });
      this.groups.push(g);
    }
    for (const l of g.lines) {
      if (l.kind === 'entry' && l.key === key) {
        l.value = value;
        return;
      }
    }
    let at = g.lines.length;
    while (at > 0 && g.lines[at - 1].kind === 'comment' && (g.lines[at - 1] as { text: string }).text.trim() === '') at--;
    g.lines.splice(at, 0, { kind: 'entry', key, value });
  }

  remove(group: string, key?: string): boolean {
    const gi = this.groups.findIndex((g) => g.name === group);
    if (gi < 0) return false;
    if (key === undefined) {
      this.groups.splice(gi, 1);
      return true;
    }
    const g = this.groups[gi];
    const before = g.lines.length;
    g.lines = g.lines.filter((l) => !(l.kind === 'entry' && l.key === key));
    return g.lines.length !== before;
  }

  render(): string {
    const out: string[] = this.head.map((l) => (l as { text: string }).text);
    for (const g of this.groups) {
      out.push(`[${g.name}]`);
      for (const l of g.lines) out.push(l.kind === 'comment' ? l.text : `${l.key}=${escapeValue(l.value)}`);
    }
    return out.join('\n') + '\n';
  }
}

function unescapeValue(v: string): string {
  return v.replace(/\\([sntr\\])/g, (_, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c] ?? c);
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/^ /, '\\s');
}
