/**
 * The GVariant text format, as `ostree commit --add-metadata=KEY=VALUE`
 * accepts it: `'str'`, `"str"`, `true`, `5` (int32), `5.0` (double),
 * type keywords (`uint32 5`, `int64 -1`, `byte 0x10`, ...), `@TYPE value`,
 * arrays `[...]`, tuples `(...)`, variants `<...>` and byte strings `b'...'`.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { parseType, type Variant } from './gvariant.js';

const KEYWORDS: Record<string, string> = {
  boolean: 'b', byte: 'y', int16: 'n', uint16: 'q', int32: 'i', uint32: 'u', int64: 'x', uint64: 't', double: 'd', handle: 'h',
  string: 's', objectpath: 'o', signature: 'g',
};

function fail(text: string, why: string): OstreeTsError {
  return new OstreeTsError(Codes.USAGE, `Cannot parse GVariant text ${JSON.stringify(text)}: ${why}. Examples: "'a string'", "uint32 5", "true", "['a', 'b']".`, { text });
}

/** Nesting deeper than this is refused (GVariant's own limit), not a stack overflow. */
const MAX_DEPTH = 64;

class P {
  pos = 0;
  depth = 0;
  constructor(readonly s: string) {}
  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++;
  }
  peek(): string {
    this.ws();
    return this.s[this.pos] ?? '';
  }
  eat(c: string): boolean {
    if (this.peek() === c) {
      this.pos++;
      return true;
    }
    return false;
  }
  word(): string {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos));
    return m ? m[0] : '';
  }
}

/** Parse GVariant text; returns the value with its type. */
export function parseVariantText(text: string): Variant {
  const p = new P(text);
  const v = value(p, null);
  p.ws();
  if (p.pos !== text.length) throw fail(text, `unexpected '${text.slice(p.pos)}'`);
  return v;
}

function value(p: P, want: string | null): Variant {
  if (++p.depth > MAX_DEPTH) throw fail(p.s, `it nests deeper than ${MAX_DEPTH} levels`);
  try {
    return valueAt(p, want);
  } finally {
    p.depth--;
  }
}

function valueAt(p: P, want: string | null): Variant {
  const c = p.peek();
  if (c === '@') {
    p.pos++;
    p.ws();
    let end = p.pos;
    let depth = 0;
    while (end < p.s.length) {
      const ch = p.s[end];
      if (ch === '(' || ch === '{') depth++;
      else if (ch === ')' || ch === '}') depth--;
      else if (depth === 0 && /\s/.test(ch)) break;
      end++;
    }
    const type = p.s.slice(p.pos, end);
    parseType(type);
    p.pos = end;
    return value(p, type);
  }
  const w = p.word();
  if (w && KEYWORDS[w] && !(w === 'true' || w === 'false')) {
    p.pos += w.length;
    return value(p, KEYWORDS[w]);
  }
  if (w === 'true' || w === 'false') {
    p.pos += w.length;
    return { type: 'b', value: w === 'true' };
  }
  if (w === 'nothing') {
    p.pos += w.length;
    if (!want || want[0] !== 'm') throw fail(p.s, "'nothing' needs a maybe type, e.g. @ms nothing");
    return { type: want, value: null };
  }
  if (c === "'" || c === '"') {
    if (want && !'sog'.includes(want)) throw fail(p.s, `a string where '${want}' is expected`);
    return { type: want ?? 's', value: str(p) };
  }
  if (c === 'b' && (p.s[p.pos + 1] === "'" || p.s[p.pos + 1] === '"')) {
    p.pos++;
    const s = str(p);
    return { type: 'ay', value: Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]) };
  }
  if (c === '<') {
    p.pos++;
    const inner = value(p, null);
    if (!p.eat('>')) throw fail(p.s, "missing '>'");
    return { type: 'v', value: inner };
  }
  if (c === '[') {
    p.pos++;
    const elemType = want && want[0] === 'a' ? want.slice(1) : null;
    const items: Variant[] = [];
    if (!p.eat(']')) {
      do items.push(value(p, elemType ?? (items[0]?.type ?? null)));
      while (p.eat(','));
      if (!p.eat(']')) throw fail(p.s, "missing ']'");
    }
    const et = elemType ?? items[0]?.type;
    if (!et) throw fail(p.s, "an empty array needs a type, e.g. @as []");
    if (items.some((i) => i.type !== et)) throw fail(p.s, 'array elements differ in type');
    if (et === 'y') return { type: 'ay', value: Buffer.from(items.map((i) => Number(i.value))) };
    return { type: `a${et}`, value: items.map((i) => i.value) };
  }
  if (c === '(') {
    p.pos++;
    const items: Variant[] = [];
    if (!p.eat(')')) {
      do items.push(value(p, null));
      while (p.eat(','));
      if (!p.eat(')')) throw fail(p.s, "missing ')'");
    }
    return { type: `(${items.map((i) => i.type).join('')})`, value: items.map((i) => i.value) };
  }
  const m = /^[-+]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][-+]?\d+)?)/.exec(p.s.slice(p.pos));
  if (m) {
    p.pos += m[0].length;
    const isFloat = /[.eE]/.test(m[0]) && !m[0].toLowerCase().includes('0x');
    const t = want ?? (isFloat ? 'd' : 'i');
    if ('sogvb'.includes(t) || t.length > 1) throw fail(p.s, `a number where '${t}' is expected`);
    return { type: t, value: number(p.s, m[0], t) };
  }
  throw fail(p.s, `unexpected '${p.s.slice(p.pos, p.pos + 10)}'`);
}

const RANGES: Record<string, [bigint, bigint]> = {
  y: [0n, 255n], n: [-32768n, 32767n], q: [0n, 65535n], i: [-2147483648n, 2147483647n], h: [-2147483648n, 2147483647n],
  u: [0n, 4294967295n], x: [-(2n ** 63n), 2n ** 63n - 1n], t: [0n, 2n ** 64n - 1n],
};

function number(text: string, lit: string, t: string): unknown {
  if (t === 'd') return Number(lit);
  const range = RANGES[t];
  if (!range) throw fail(text, `a number cannot have type '${t}'`);
  const neg = lit.startsWith('-');
  const body = lit.replace(/^[-+]/, '');
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(body)) throw fail(text, `${lit} is not a whole number, as '${t}' needs`);
  let n = BigInt(body);
  if (neg) n = -n;
  if (n < range[0] || n > range[1]) throw fail(text, `${lit} is out of range for '${t}'`);
  return t === 'x' || t === 't' ? n : Number(n);
}

function str(p: P): string {
  const q = p.s[p.pos++];
  let out = '';
  while (p.pos < p.s.length && p.s[p.pos] !== q) {
    let ch = p.s[p.pos++];
    if (ch === '\\') {
      const e = p.s[p.pos++];
      ch = ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? e;
    }
    out += ch;
  }
  if (p.s[p.pos] !== q) throw fail(p.s, 'unterminated string');
  p.pos++;
  return out;
}
