/**
 * Recipes: one YAML file (plus the files it includes) saying what an OS tree
 * is made of. Parsing and validation are pure: the text comes in, a checked
 * `Recipe` comes out, and every mistake is an E_RECIPE error naming the
 * file, line and column and saying how to fix it. Unknown keys are errors.
 */
import * as v from 'valibot';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { Codes, OstreeTsError } from '../errors/index.js';

export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

export type BaseSource =
  | { kind: 'tarball'; path: string; at: SourcePos }
  | { kind: 'directory'; path: string; at: SourcePos }
  | { kind: 'ref'; rev: string; at: SourcePos }
  | { kind: 'debian'; suite: string; variant: string; include: string[]; components: string[]; architectures: string[]; mirror?: string; at: SourcePos };

export type LayerSource =
  | { kind: 'tarball'; path: string; at: SourcePos }
  | { kind: 'directory'; path: string; at: SourcePos }
  /** `repo` resolved against the recipe; `repoAsWritten` as the recipe spells it (recorded, so no machine path is). */
  | { kind: 'git'; repo: string; repoAsWritten: string; rev: string; subdir?: string; at: SourcePos };

export interface FileEntry {
  /** Relative to the tree's root, no leading slash. */
  path: string;
  content: string;
  mode: number;
  uid: number;
  gid: number;
  at: SourcePos;
}

export interface Postprocess {
  name: string;
  script: string;
  /** Seconds. */
  timeout: number;
  at: SourcePos;
}

export interface Check {
  name: string;
  kind: 'required' | 'wanted';
  script: string;
  at: SourcePos;
}

export interface Recipe {
  /** The recipe file given, then every file it includes, in the order read. */
  recipeFiles: string[];
  ref: string;
  version?: string;
  subject?: string;
  body?: string;
  /** Seconds since the epoch. */
  timestamp?: bigint;
  metadata: Array<[string, string]>;
  bootable: boolean;
  base: BaseSource;
  layers: LayerSource[];
  files: FileEntry[];
  remove: Array<{ glob: string; at: SourcePos }>;
  postprocess: Postprocess[];
  checks: Check[];
  sign?: { type: 'ed25519' | 'gpg'; key: string; keyId?: string; at: SourcePos };
}

const DEFAULT_TIMEOUT = 600;

const str = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'));
const strList = v.array(str, 'must be a list of strings');
const MODE_MSG = 'must be an octal mode such as "0644" (quoted)';
const mode = v.union([
  v.pipe(v.number(), v.integer(MODE_MSG), v.minValue(0, MODE_MSG), v.maxValue(0o7777, MODE_MSG)),
  v.pipe(v.string(), v.regex(/^0?[0-7]{1,4}$/, MODE_MSG)),
], MODE_MSG);
const OWNER_MSG = 'must be UID or "UID:GID" (numbers)';
const owner = v.union([
  v.pipe(v.number(), v.integer(OWNER_MSG), v.minValue(0, OWNER_MSG)),
  v.pipe(v.string(), v.regex(/^\d+(:\d+)?$/, OWNER_MSG)),
], OWNER_MSG);

const DEBIAN = v.strictObject({
  suite: str,
  variant: v.optional(v.picklist(['extract', 'custom', 'essential', 'apt', 'required', 'minbase', 'buildd', 'important', 'debootstrap', 'standard'], 'must be an mmdebstrap variant: minbase, apt, required, important, standard, ...')),
  include: v.optional(strList),
  components: v.optional(strList),
  architectures: v.optional(strList),
  mirror: v.optional(str),
});

const BASE = v.strictObject({
  tarball: v.optional(str),
  directory: v.optional(str),
  ref: v.optional(str),
  debian: v.optional(DEBIAN),
});

const LAYER = v.strictObject({
  tarball: v.optional(str),
  directory: v.optional(str),
  git: v.optional(v.strictObject({ repo: str, rev: str, subdir: v.optional(str) })),
});

const RECIPE = v.strictObject({
  include: v.optional(strList),
  ref: v.optional(str),
  version: v.optional(v.union([v.string(), v.number()], 'must be a string (quote it: "1.0")')),
  subject: v.optional(v.string('must be a string')),
  body: v.optional(v.string('must be a string')),
  timestamp: v.optional(v.union([v.pipe(v.number(), v.integer(), v.minValue(0)), v.string(), v.date()], 'must be seconds since 1970 or a date (2024-01-01T00:00:00Z)')),
  metadata: v.optional(v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]), 'must be a map of names to strings')),
  bootable: v.optional(v.boolean('must be true or false')),
  base: v.optional(BASE),
  layers: v.optional(v.array(LAYER, 'must be a list of layers')),
  files: v.optional(v.array(v.strictObject({ path: str, content: v.string('must be a string'), mode: v.optional(mode), owner: v.optional(owner) }), 'must be a list of files')),
  remove: v.optional(strList),
  postprocess: v.optional(v.array(v.strictObject({ name: str, script: str, timeout: v.optional(v.pipe(v.number('must be a number of seconds'), v.minValue(0.001, 'must be more than 0 seconds'))) }), 'must be a list of scripts')),
  checks: v.optional(v.array(v.strictObject({ name: v.pipe(str, v.regex(/^[A-Za-z0-9._-]+$/, 'must be a file name (letters, digits, . _ -)')), required: v.optional(v.boolean('must be true or false')), script: str }), 'must be a list of checks')),
  sign: v.optional(v.strictObject({ type: v.picklist(['ed25519', 'gpg'], 'must be ed25519 or gpg'), key: str, 'key-id': v.optional(str) })),
});

type RawRecipe = v.InferOutput<typeof RECIPE>;

/** Keys each object of the recipe takes, for "did you mean" in messages. */
function keysAt(path: Array<string | number>): string[] {
  const [top] = path;
  if (path.length <= 1) return Object.keys(RECIPE.entries);
  if (top === 'base') return path.length === 2 ? Object.keys(BASE.entries) : Object.keys(DEBIAN.entries);
  if (top === 'layers') return path.length === 3 ? Object.keys(LAYER.entries) : ['repo', 'rev', 'subdir'];
  if (top === 'files') return ['path', 'content', 'mode', 'owner'];
  if (top === 'postprocess') return ['name', 'script', 'timeout'];
  if (top === 'checks') return ['name', 'required', 'script'];
  if (top === 'sign') return ['type', 'key', 'key-id'];
  return [];
}

/** A parsed recipe file, before its includes are merged: values and where each is written. */
export interface RecipeFile {
  file: string;
  raw: RawRecipe;
  /** Where the value at a path (keys and indexes) is written; the nearest enclosing value when it is absent. */
  pos(path: Array<string | number>): SourcePos;
}

function describePath(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || 'the recipe';
}

export function recipeError(at: SourcePos, what: string, fix: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.RECIPE, `${at.file}:${at.line}:${at.column}: ${what}. ${fix}`, { file: at.file, line: at.line, column: at.column, ...data });
}

/** Parse and validate one recipe file's text. */
export function parseRecipeFile(text: string, file: string): RecipeFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true }) as Document.Parsed;
  const at = (offset: number): SourcePos => {
    const p = lc.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw recipeError(at(e.pos[0]), `not valid YAML: ${e.message.split('\n')[0]}`, 'Fix the YAML syntax (indentation, quotes, a colon after each key).');
  }
  const nodeAt = (path: Array<string | number>): { node: YamlNode | null; keyNode: YamlNode | null } => {
    let node: unknown = doc.contents;
    let keyNode: YamlNode | null = null;
    for (const k of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === k);
        if (!pair) return { node: node as YamlNode, keyNode: null };
        keyNode = pair.key as YamlNode;
        node = pair.value;
      } else if (node && typeof node === 'object' && 'items' in node && typeof k === 'number') {
        const item = (node as { items: unknown[] }).items[k];
        if (!item) return { node: node as YamlNode, keyNode: null };
        keyNode = null;
        node = item;
      } else {
        return { node: (node as YamlNode) ?? null, keyNode };
      }
    }
    return { node: (node as YamlNode) ?? keyNode, keyNode };
  };
  const pos = (path: Array<string | number>): SourcePos => {
    const { node, keyNode } = nodeAt(path);
    const r = (node as { range?: [number, number, number] } | null)?.range ?? (keyNode as { range?: [number, number, number] } | null)?.range;
    return at(r ? r[0] : 0);
  };
  const keyPos = (path: Array<string | number>): SourcePos => {
    const { keyNode, node } = nodeAt(path);
    const r = ((keyNode ?? node) as { range?: [number, number, number] } | null)?.range;
    return at(r ? r[0] : 0);
  };
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw recipeError(at(0), 'a recipe is a map of keys (ref:, base:, layers:, ...)', 'Start the file with `ref: NAME` and `base:`; see the Recipes section of the README.');
  }
  const result = v.safeParse(RECIPE, data);
  if (!result.success) {
    const issue = result.issues[0];
    const path = (issue.path ?? []).map((p) => p.key as string | number);
    const last = issue.path?.[issue.path.length - 1];
    const name = describePath(path);
    if (last?.origin === 'key' && issue.expected === 'never') {
      const allowed = keysAt(path);
      throw recipeError(keyPos(path), `unknown key \`${String(last.key)}\`${path.length > 1 ? ` in ${describePath(path.slice(0, -1))}` : ''}`, `Remove it, or use one of: ${allowed.join(', ')}.`, { key: last.key });
    }
    if (last?.origin === 'key' && issue.received === 'undefined') {
      throw recipeError(pos(path.slice(0, -1)), `${describePath(path.slice(0, -1)) || 'the recipe'} needs \`${String(last.key)}\``, `Add \`${String(last.key)}:\` there.`, { key: last.key });
    }
    const message = issue.message.startsWith('Invalid ') ? `must be ${issue.expected ?? 'something else'} (got ${issue.received})` : issue.message;
    throw recipeError(pos(path), `\`${name}\` ${message}`, `Fix the value of \`${name}\`.`, { key: name });
  }
  const raw = result.output;
  // One source per base and per layer.
  const oneOf = (o: Record<string, unknown>, keys: string[], path: Array<string | number>): void => {
    const given = keys.filter((k) => o[k] !== undefined);
    if (given.length !== 1) {
      throw recipeError(pos(path), `\`${describePath(path)}\` ${given.length ? `gives ${given.join(' and ')}` : 'is empty'}: it takes exactly one source`, `Give one of: ${keys.join(', ')}.`, { key: describePath(path) });
    }
  };
  if (raw.base) oneOf(raw.base, ['tarball', 'directory', 'ref', 'debian'], ['base']);
  raw.layers?.forEach((l, i) => oneOf(l, ['tarball', 'directory', 'git'], ['layers', i]));
  return { file, raw, pos };
}

function parseTimestamp(t: number | string | Date, at: SourcePos): bigint {
  if (typeof t === 'number') return BigInt(t);
  const ms = t instanceof Date ? t.getTime() : /^\d+$/.test(t) ? Number(t) * 1000 : Date.parse(t);
  if (!Number.isFinite(ms)) throw recipeError(at, `\`timestamp\` "${String(t)}" is not a date`, 'Write seconds since 1970 or an ISO 8601 date such as 2024-01-01T00:00:00Z.');
  return BigInt(Math.floor(ms / 1000));
}

function parseOwner(o: number | string | undefined): { uid: number; gid: number } {
  if (o === undefined) return { uid: 0, gid: 0 };
  if (typeof o === 'number') return { uid: o, gid: o };
  const [u, g] = o.split(':');
  return { uid: Number(u), gid: Number(g ?? u) };
}

function parseMode(m: number | string | undefined, dflt: number): number {
  if (m === undefined) return dflt;
  return typeof m === 'number' ? m : Number.parseInt(m, 8);
}

/** Files read while including: the reader, and how a path in a recipe is resolved against its file. */
export interface RecipeReader {
  read(file: string): Promise<string>;
  /** An included or source path, relative to the directory of `from`. */
  resolve(from: string, p: string): string;
}

/**
 * Read a recipe and its includes (depth first, each included file before
 * the one including it), refuse include cycles, and merge: scalars from
 * the including file win, metadata merges, layers, removes and postprocess
 * scripts add up in order, files (by path) and checks (by name) replace.
 */
export async function loadRecipe(file: string, reader: RecipeReader): Promise<Recipe> {
  const files: string[] = [];
  const merged: Partial<Omit<Recipe, 'files' | 'metadata' | 'layers' | 'remove' | 'postprocess' | 'checks'>> & { metadata: Map<string, string>; layers: LayerSource[]; files_: Map<string, FileEntry>; remove: Recipe['remove']; postprocess: Postprocess[]; checks: Map<string, Check> } = {
    metadata: new Map(), layers: [], files_: new Map(), remove: [], postprocess: [], checks: new Map(),
  };
  let top: RecipeFile | null = null;
  const visit = async (f: string, stack: string[], includedAt: SourcePos | null): Promise<void> => {
    let text: string;
    try {
      text = await reader.read(f);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      if (includedAt) throw recipeError(includedAt, `cannot read the included recipe ${f}: ${why}`, 'Fix the path (it is relative to the including recipe).', { include: f });
      throw new OstreeTsError(Codes.RECIPE, `Cannot read the recipe ${f}: ${why}. Give the path of a recipe file (YAML).`, { file: f });
    }
    const rf = parseRecipeFile(text, f);
    top ??= rf;
    files.push(f);
    const raw = rf.raw;
    for (const [i, inc] of (raw.include ?? []).entries()) {
      const target = reader.resolve(f, inc);
      const incAt = rf.pos(['include', i]);
      if (stack.includes(target)) {
        const cycle = [...stack.slice(stack.indexOf(target)), target].join(' -> ');
        throw recipeError(incAt, `include cycle: ${cycle}`, 'Remove one of these includes: a recipe cannot include itself, directly or through others.', { cycle: [...stack.slice(stack.indexOf(target)), target] });
      }
      await visit(target, [...stack, target], incAt);
    }
    const p = (path: Array<string | number>): SourcePos => rf.pos(path);
    const res = (x: string): string => reader.resolve(f, x);
    if (raw.ref !== undefined) merged.ref = raw.ref;
    if (raw.version !== undefined) merged.version = String(raw.version);
    if (raw.subject !== undefined) merged.subject = raw.subject;
    if (raw.body !== undefined) merged.body = raw.body;
    if (raw.timestamp !== undefined) merged.timestamp = parseTimestamp(raw.timestamp, p(['timestamp']));
    if (raw.bootable !== undefined) merged.bootable = raw.bootable;
    for (const [k, val] of Object.entries(raw.metadata ?? {})) merged.metadata.set(k, String(val));
    if (raw.base) {
      const b = raw.base;
      const at = p(['base']);
      if (b.tarball) merged.base = { kind: 'tarball', path: res(b.tarball), at };
      else if (b.directory) merged.base = { kind: 'directory', path: res(b.directory), at };
      else if (b.ref) merged.base = { kind: 'ref', rev: b.ref, at };
      else if (b.debian) {
        const d = b.debian;
        merged.base = {
          kind: 'debian', suite: d.suite, variant: d.variant ?? 'minbase', include: [...(d.include ?? [])].sort(),
          components: d.components ?? ['main'], architectures: d.architectures ?? [], mirror: d.mirror, at,
        };
      }
    }
    raw.layers?.forEach((l, i) => {
      const at = p(['layers', i]);
      if (l.tarball) merged.layers.push({ kind: 'tarball', path: res(l.tarball), at });
      else if (l.directory) merged.layers.push({ kind: 'directory', path: res(l.directory), at });
      else if (l.git) merged.layers.push({ kind: 'git', repo: res(l.git.repo), repoAsWritten: l.git.repo, rev: l.git.rev, subdir: l.git.subdir, at });
    });
    raw.files?.forEach((fe, i) => {
      const at = p(['files', i]);
      const rel = fe.path.replace(/^\/+/, '');
      if (!rel || rel.split('/').some((c) => c === '..' || c === '.' || c === '')) {
        throw recipeError(p(['files', i, 'path']), `\`files[${i}].path\` "${fe.path}" is not a path inside the tree`, 'Write a path such as /etc/hostname (no "..", no empty parts).');
      }
      merged.files_.set(rel, { path: rel, content: fe.content, mode: parseMode(fe.mode, 0o644), ...parseOwner(fe.owner), at });
    });
    raw.remove?.forEach((g, i) => merged.remove.push({ glob: g, at: p(['remove', i]) }));
    raw.postprocess?.forEach((pp, i) => merged.postprocess.push({ name: pp.name, script: pp.script, timeout: pp.timeout ?? DEFAULT_TIMEOUT, at: p(['postprocess', i]) }));
    raw.checks?.forEach((c, i) => {
      merged.checks.set(c.name, { name: c.name, kind: c.required === false ? 'wanted' : 'required', script: c.script, at: p(['checks', i]) });
    });
    if (raw.sign) merged.sign = { type: raw.sign.type, key: raw.sign.type === 'ed25519' ? res(raw.sign.key) : raw.sign.key, keyId: raw.sign['key-id'], at: p(['sign']) };
  };
  await visit(file, [file], null);
  const head = top as unknown as RecipeFile;
  if (!merged.ref) throw recipeError(head.pos([]), 'the recipe names no `ref`', 'Add `ref: NAME` (the branch the commit goes to, such as os/x86_64/stable).', { key: 'ref' });
  if (!merged.base) throw recipeError(head.pos([]), 'the recipe has no `base`', 'Add `base:` with one of tarball, directory, ref or debian (in this file or one it includes).', { key: 'base' });
  return {
    recipeFiles: files,
    ref: merged.ref,
    version: merged.version,
    subject: merged.subject,
    body: merged.body,
    timestamp: merged.timestamp,
    metadata: [...merged.metadata].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    bootable: merged.bootable ?? true,
    base: merged.base,
    layers: merged.layers,
    files: [...merged.files_.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    remove: merged.remove,
    postprocess: merged.postprocess,
    checks: [...merged.checks.values()],
    sign: merged.sign,
  };
}
