/**
 * Boot Loader Specification entries as libostree writes and reads them:
 * `key value` lines, keys in a fixed order on write, sorted by `version`
 * (strverscmp, highest first) on read. Also kernel arguments and os-release,
 * which the entries are made from.
 */

/** One BLS entry: its keys in order (a key may repeat, as `initrd` does). */
export class BlsEntry {
  readonly lines: Array<[string, string]> = [];

  static parse(text: string): BlsEntry {
    const e = new BlsEntry();
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r+$/, '');
      if (!/^[A-Za-z]/.test(line)) continue;
      // The key ends at the first space or tab (only those separate it, as libostree reads entries).
      const m = /^([^ \t]+)[ \t]+(.*)$/.exec(line);
      if (m) e.lines.push([m[1], m[2]]);
      else e.lines.push([line.replace(/[ \t]+$/, ''), '']);
    }
    return e;
  }

  get(key: string): string | undefined {
    return this.lines.find(([k]) => k === key)?.[1];
  }

  getAll(key: string): string[] {
    return this.lines.filter(([k]) => k === key).map(([, v]) => v);
  }

  set(key: string, value: string): void {
    const l = this.lines.find(([k]) => k === key);
    if (l) l[1] = value;
    else this.lines.push([key, value]);
  }

  add(key: string, value: string): void {
    this.lines.push([key, value]);
  }

  /** libostree's order: title, version, options, devicetree, linux, initrd…, then the rest. */
  render(): string {
    const order = ['title', 'version', 'options', 'devicetree', 'linux', 'initrd'];
    const out: string[] = [];
    for (const k of order) for (const v of this.getAll(k)) out.push(`${k} ${v}\n`);
    for (const [k, v] of this.lines) if (!order.includes(k)) out.push(`${k} ${v}\n`);
    return out.join('');
  }
}

/** glibc's strverscmp: digit runs compare as numbers (with its leading-zero rule). */
export function strverscmp(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) return 0;
  // Back up to the start of a digit run shared by both.
  let s = i;
  while (s > 0 && isDigit(a[s - 1])) s--;
  const da = isDigit(a[i]);
  const db = isDigit(b[i]);
  if (s < i || (da && db)) {
    const ra = digitsFrom(a, s);
    const rb = digitsFrom(b, s);
    const fracA = ra.startsWith('0');
    const fracB = rb.startsWith('0');
    if (!fracA && !fracB) {
      if (ra.length !== rb.length) return ra.length - rb.length;
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    }
    if (fracA && fracB) {
      // Fractional parts: compare as strings, a longer run being smaller when it is a prefix.
      if (da && !db) return -1;
      if (!da && db) return 1;
      return (a.charCodeAt(i) || 0) - (b.charCodeAt(i) || 0);
    }
    return fracA ? -1 : 1;
  }
  return (a.charCodeAt(i) || 0) - (b.charCodeAt(i) || 0);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function digitsFrom(s: string, at: number): string {
  let e = at;
  while (e < s.length && isDigit(s[e])) e++;
  return s.slice(at, e);
}

/**
 * Kernel arguments, in order. `key=value` and bare `key`; a key may repeat.
 * Quoting follows the kernel: double quotes group spaces and are kept.
 */
export class Kargs {
  readonly args: string[];

  constructor(args: string[] = []) {
    this.args = [...args];
  }

  static parse(text: string): Kargs {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (const c of text) {
      if (c === '"') quoted = !quoted;
      if (!quoted && (c === ' ' || c === '\t' || c === '\n')) {
        if (cur) out.push(cur);
        cur = '';
      } else cur += c;
    }
    if (cur) out.push(cur);
    return new Kargs(out);
  }

  static keyOf(arg: string): string {
    const eq = arg.indexOf('=');
    return eq < 0 ? arg : arg.slice(0, eq);
  }

  has(key: string): boolean {
    return this.args.some((a) => Kargs.keyOf(a) === key);
  }

  get(key: string): string | undefined {
    const a = this.args.find((x) => Kargs.keyOf(x) === key);
    if (a === undefined) return undefined;
    const eq = a.indexOf('=');
    return eq < 0 ? '' : a.slice(eq + 1);
  }

  /** `key=value` replaces every `key` (keeping the first one's place); appended when absent. */
  replace(arg: string): void {
    const key = Kargs.keyOf(arg);
    const first = this.args.findIndex((a) => Kargs.keyOf(a) === key);
    if (first < 0) {
      this.args.push(arg);
      return;
    }
    this.args[first] = arg;
    for (let i = this.args.length - 1; i > first; i--) if (Kargs.keyOf(this.args[i]) === key) this.args.splice(i, 1);
  }

  append(arg: string): void {
    this.args.push(arg);
  }

  /** Delete `key=value` exactly, or every `key` when only a key is given. Returns whether anything went. */
  delete(arg: string): boolean {
    const before = this.args.length;
    const exact = arg.includes('=');
    for (let i = this.args.length - 1; i >= 0; i--) {
      if (exact ? this.args[i] === arg : Kargs.keyOf(this.args[i]) === arg) this.args.splice(i, 1);
    }
    return this.args.length !== before;
  }

  toString(): string {
    return this.args.join(' ');
  }
}

/** os-release: KEY=value lines, values shell-unquoted. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.set(line.slice(0, eq), shellUnquote(line.slice(eq + 1)));
  }
  return out;
}

function shellUnquote(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === "'") {
      const end = v.indexOf("'", i + 1);
      out += v.slice(i + 1, end < 0 ? v.length : end);
      i = end < 0 ? v.length : end;
    } else if (c === '"') {
      i++;
      while (i < v.length && v[i] !== '"') {
        if (v[i] === '\\' && i + 1 < v.length && '$`"\\\n'.includes(v[i + 1])) i++;
        out += v[i++];
      }
    } else if (c === '\\' && i + 1 < v.length) {
      out += v[++i];
    } else out += c;
  }
  return out;
}
