/**
 * Options, declared once per verb and normalised once, at entry: a handler
 * receives typed values (the last of a repeated single-value option, a list
 * for a repeatable one, booleans for flags), never the `T | T[]` the parser
 * produces. The same declarations build the yargs options (for help and
 * strict checking) and drive the small parser the shell uses for plain
 * command lines (see shell.ts).
 */
import type { Argv, Options as YargsOption, PositionalOptions } from 'yargs';
import { Codes, OstreeTsError } from '../errors/index.js';

interface Common {
  describe: string;
  alias?: string | readonly string[];
  /** The heading it is listed under in --help. */
  group?: string;
  hidden?: boolean;
}

export interface StringOption extends Common { kind: 'string'; choices?: readonly string[]; default?: string }
/** A repeatable option: every value, in order. */
export interface ListOption extends Common { kind: 'list' }
/** A flag: false when absent. */
export interface FlagOption extends Common { kind: 'flag' }
/** A flag whose absence means "as configured" (undefined), as --fsync. */
export interface TriStateOption extends Common { kind: 'tristate' }
export interface NumberOption extends Common { kind: 'number' }

export type OptionSpec = StringOption | ListOption | FlagOption | TriStateOption | NumberOption;

/** A positional argument: one value (required or not) or the rest of them (`..`). */
export interface PositionalSpec {
  kind: 'positional';
  describe: string;
  required: boolean;
  list: boolean;
  choices?: readonly string[];
}

export type OptionSpecs = Record<string, OptionSpec>;
export type PositionalSpecs = Record<string, PositionalSpec>;

type Extra = Omit<Common, 'describe'>;

export function str(describe: string, extra: Extra & { choices?: readonly string[]; default: string }): StringOption & { default: string };
export function str(describe: string, extra?: Extra & { choices?: readonly string[] }): StringOption;
export function str(describe: string, extra: Extra & { choices?: readonly string[]; default?: string } = {}): StringOption {
  return { kind: 'string', describe, ...extra };
}

export function list(describe: string, extra: Extra = {}): ListOption {
  return { kind: 'list', describe, ...extra };
}

export function flag(describe: string, extra: Extra = {}): FlagOption {
  return { kind: 'flag', describe, ...extra };
}

export function tristate(describe: string, extra: Extra = {}): TriStateOption {
  return { kind: 'tristate', describe, ...extra };
}

export function num(describe: string, extra: Extra = {}): NumberOption {
  return { kind: 'number', describe, ...extra };
}

/** `<name>` */
export function arg(describe: string, extra: { choices?: readonly string[] } = {}): PositionalSpec & { required: true; list: false } {
  return { kind: 'positional', describe, required: true, list: false, ...extra };
}

/** `[name]` */
export function optionalArg(describe: string): PositionalSpec & { required: false; list: false } {
  return { kind: 'positional', describe, required: false, list: false };
}

/** `<name..>` (required) or `[name..]` */
export function args<R extends boolean = false>(describe: string, extra: { required?: R } = {}): PositionalSpec & { required: R; list: true } {
  return { kind: 'positional', describe, required: (extra.required ?? false) as R, list: true };
}

// ---------------------------------------------------------------------------
// Types: what a handler receives.

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

type OptionValue<S> =
  S extends ListOption ? string[]
    : S extends FlagOption ? boolean
      : S extends TriStateOption ? boolean | undefined
        : S extends NumberOption ? number | undefined
          : S extends { kind: 'string'; default: string } ? string
            : S extends StringOption ? string | undefined
              : S extends { kind: 'positional'; list: true } ? string[]
                : S extends { kind: 'positional'; required: true } ? string
                  : S extends PositionalSpec ? string | undefined
                    : never;

/** The normalised options of a set of declarations, camelCase keys as yargs gives them. */
export type Parsed<T> = { [K in keyof T & string as Camel<K>]: OptionValue<T[K]> };

// ---------------------------------------------------------------------------
// Normalisation.

export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function lastOf(v: unknown): unknown {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function listOf(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function valueOf(spec: OptionSpec | PositionalSpec, raw: unknown): unknown {
  switch (spec.kind) {
    case 'list': return listOf(raw);
    case 'flag': return lastOf(raw) === true;
    case 'tristate': {
      const v = lastOf(raw);
      return v === undefined ? undefined : v === true;
    }
    case 'number': {
      const v = lastOf(raw);
      return v === undefined ? undefined : Number(v);
    }
    case 'string': {
      const v = lastOf(raw);
      return v === undefined ? spec.default : String(v);
    }
    case 'positional': {
      if (spec.list) return listOf(raw);
      const v = lastOf(raw);
      return v === undefined ? undefined : String(v);
    }
  }
}

/** The declared options out of a parser's result: one key each, camelCase, typed. */
export function normalize(specs: Record<string, OptionSpec | PositionalSpec>, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const key = camel(name);
    out[key] = valueOf(spec, raw[key] !== undefined ? raw[key] : raw[name]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// yargs.

function yargsOption(spec: OptionSpec): YargsOption {
  const o: YargsOption = { describe: spec.describe, hidden: spec.hidden };
  if (spec.alias !== undefined) o.alias = spec.alias as string | string[];
  switch (spec.kind) {
    case 'string':
      o.type = 'string';
      if (spec.choices) o.choices = [...spec.choices];
      if (spec.default !== undefined) o.default = spec.default;
      break;
    case 'list':
      o.type = 'string';
      o.describe = `${spec.describe}${/repeatable/.test(spec.describe) ? '' : '; repeatable'}`;
      break;
    case 'flag':
    case 'tristate':
      o.type = 'boolean';
      break;
    case 'number':
      o.type = 'number';
      break;
  }
  return o;
}

/** Declare options on a yargs instance (their help groups are the caller's: see `helpGroups`). */
export function declareOptions(y: Argv, specs: OptionSpecs, extra: { global?: boolean } = {}): Argv {
  for (const [name, spec] of Object.entries(specs)) y = y.option(name, { ...yargsOption(spec), ...extra });
  return y;
}

/** Declare positionals on a yargs instance (inside a command's builder). */
export function declarePositionals(y: Argv, specs: PositionalSpecs): Argv {
  for (const [name, spec] of Object.entries(specs)) {
    const p: PositionalOptions = { type: 'string', describe: spec.describe };
    if (spec.list) p.array = true;
    if (spec.choices) p.choices = [...spec.choices];
    y = y.positional(name, p);
  }
  return y;
}

/** The yargs command string: the verb and its positionals (`ls <commit> [paths..]`). */
export function commandString(name: string, positionals: PositionalSpecs = {}): string {
  return [name, ...Object.entries(positionals).map(([n, p]) => {
    const inner = p.list ? `${n}..` : n;
    return p.required ? `<${inner}>` : `[${inner}]`;
  })].join(' ');
}

/** The help groups of `specs`: those named in `order` first, then the others as they appear. */
export function helpGroups(specs: OptionSpecs, order: readonly string[] = []): Array<[string, string[]]> {
  const names = [...order];
  for (const s of Object.values(specs)) if (s.group !== undefined && !names.includes(s.group)) names.push(s.group);
  return names
    .map((g): [string, string[]] => [g, Object.entries(specs).filter(([, s]) => s.group === g).map(([k]) => k)])
    .filter(([, keys]) => keys.length > 0);
}

// ---------------------------------------------------------------------------
// Options several verbs share: one definition each.

export const JSON_OPTION = flag('Print the result as a JSON document (apiVersion ostree-ts/v1; its kind names what it holds)');
export const LOCK_WAIT_OPTION = flag('Wait for another change to the sysroot to finish instead of failing');
export const OS_OPTION = str("The stateroot (default: the booted one, else the default deployment's)");
export const REBOOT_OPTION = flag('Reboot into the new default deployment once it is in place', { alias: 'r' });
export const SYSROOT_OPTION = str('The sysroot to act on (default /)');

/** Options of `ostree-ts admin` itself, given before or after the verb (`admin --sysroot=DIR status`). */
export const ADMIN_OPTIONS = { sysroot: SYSROOT_OPTION };

/** `--set=KEY=VALUE` options as a record (the last of a key wins); a usage error for one without `=`. */
export function keyValues(items: readonly string[], option = '--set'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of items) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OstreeTsError(Codes.USAGE, `${option} needs KEY=VALUE, got '${kv}'.`, { value: kv });
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
