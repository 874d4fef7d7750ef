/**
 * The command-line shell both commands (`ostree-ts`, `atomic`) run on: the
 * verb table and its lazy loading (only the verb that runs is imported),
 * options normalised once at entry, the parser configuration, EPIPE, and
 * error reporting with exit statuses (report.ts).
 *
 * A plain command line (long options the verb declares, in `--name=value`,
 * `--name value` or `-x value` form, and its positionals) is parsed here
 * without loading yargs, which keeps start-up short for scripts and prompts;
 * anything else (help, an unknown or unusual option, a missing argument)
 * goes through yargs, which explains the problem.
 */
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../errors/index.js';
import {
  camel, commandString, declareOptions, declarePositionals, helpGroups, normalize,
  type OptionSpec, type OptionSpecs, type Parsed, type PositionalSpecs,
} from './options.js';
import type { ExitConvention } from './report.js';

/** One verb: what it takes, and what it does with it. `run` returns the exit status (default 0). */
export interface VerbDef<P extends PositionalSpecs, O extends OptionSpecs, G> {
  positionals?: P;
  options?: O;
  /** Option groups (headings in --help), in the order they are shown. */
  groups?: string[];
  examples?: Array<[string, string]>;
  /** More about the verb, shown after the options in its --help. */
  details?: string;
  run(o: Parsed<P> & Parsed<O> & G): Promise<number | void>;
}

export interface Verb {
  positionals: PositionalSpecs;
  options: OptionSpecs;
  groups: string[];
  examples: Array<[string, string]>;
  details?: string;
  run(o: Record<string, unknown>): Promise<number | void>;
}

/** A typed verb definition, for verbs of a command whose global options are `G`. */
export function defineVerb<G>() {
  return <P extends PositionalSpecs = Record<never, never>, O extends OptionSpecs = Record<never, never>>(def: VerbDef<P, O, G>): Verb => ({
    positionals: def.positionals ?? {},
    options: def.options ?? {},
    groups: def.groups ?? [],
    examples: def.examples ?? [],
    details: def.details,
    run: def.run as Verb['run'],
  });
}

/** A verb in a command's table: its one-line description (the only one) and how to load it. */
export interface VerbEntry {
  describe: string;
  load: () => Promise<Verb>;
}

/** A verb module's default export, for a table's `load`. */
export function verbModule(m: Promise<{ default: Verb }>): Promise<Verb> {
  return m.then((x) => x.default);
}

/** Verbs under a verb (`admin deploy`), with options of their own (`admin --sysroot`). */
export interface GroupEntry {
  describe: string;
  verbs: Record<string, VerbEntry>;
  options: OptionSpecs;
  usage?: string;
  examples?: Array<[string, string]>;
}

export interface Program {
  name: string;
  /** The text above the verb list in --help. */
  usage: string;
  /** Shown below the verb list in --help (built only then). */
  epilog?: string | (() => Promise<string>);
  examples?: Array<[string, string]>;
  globals: OptionSpecs;
  verbs: Record<string, VerbEntry | GroupEntry>;
  convention: ExitConvention;
  /** The answer to `--version` without a verb. */
  version?: () => string;
}

function isGroup(e: VerbEntry | GroupEntry | undefined): e is GroupEntry {
  return e !== undefined && 'verbs' in e;
}

/** Names of the options among `specs` that take a value, as they may appear on a command line. */
function valueNames(specs: OptionSpecs): Set<string> {
  const out = new Set<string>();
  for (const [name, s] of Object.entries(specs)) {
    if (s.kind === 'flag' || s.kind === 'tristate') continue;
    out.add(`--${name}`);
    for (const a of [s.alias ?? []].flat()) out.add(a.length === 1 ? `-${a}` : `--${a}`);
  }
  return out;
}

/** The first argument that is not an option (or an option's separate value), from `start`. */
export function findVerb(args: string[], valueOptions: Set<string>, start = 0): { name: string; at: number } | undefined {
  for (let i = start; i < args.length; i++) {
    const a = args[i];
    if (valueOptions.has(a)) {
      i++;
      continue;
    }
    if (a === '--') return undefined;
    if (!a.startsWith('-')) return { name: a, at: i };
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The plain parser: the common command lines, without yargs.

interface Layer {
  /** The verb names that come before these options may appear (`admin`, `deploy`). */
  after: number;
  options: OptionSpecs;
}

/**
 * Parse `args` for the verb at `path` (its names, in order) if every argument
 * is plain; otherwise null, and yargs takes over. The result has the keys
 * yargs would give (camelCase), every value in a list as yargs gives
 * repeated options with `duplicate-arguments-array`.
 */
export function plainParse(args: string[], path: string[], layers: Layer[], positionals: PositionalSpecs): Record<string, unknown> | null {
  const raw: Record<string, unknown[]> = {};
  const words: string[] = [];
  const lookup = (token: string): [string, OptionSpec] | null => {
    const verbs = Math.min(words.length, path.length);
    for (const l of layers) {
      if (l.after > verbs) continue;
      for (const [name, s] of Object.entries(l.options)) {
        const aliases = [s.alias ?? []].flat();
        if (token === `--${name}` || aliases.some((a) => token === (a.length === 1 ? `-${a}` : `--${a}`))) return [name, s];
      }
    }
    return null;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    // `-` (stdin) and `--` (end of options) are left to yargs.
    if (a === '-' || a === '--') return null;
    if (!a.startsWith('-')) {
      words.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const token = eq > 0 ? a.slice(0, eq) : a;
    if (!token.startsWith('--') && token.length !== 2) return null;
    const found = lookup(token);
    if (!found) return null;
    const [name, spec] = found;
    let value: unknown;
    if (spec.kind === 'flag' || spec.kind === 'tristate') {
      if (eq > 0) return null;
      if (args[i + 1] === 'true' || args[i + 1] === 'false') return null;
      value = true;
    } else {
      let v: string;
      if (eq > 0) v = a.slice(eq + 1);
      else {
        if (i + 1 >= args.length || args[i + 1].startsWith('-')) return null;
        v = args[++i];
      }
      if (spec.kind === 'number') {
        if (!/^-?\d+(\.\d+)?$/.test(v)) return null;
        value = Number(v);
      } else {
        if (spec.kind === 'string' && spec.choices && !spec.choices.includes(v)) return null;
        value = v;
      }
    }
    (raw[camel(name)] ??= []).push(value);
  }
  if (words.length < path.length || path.some((p, i) => words[i] !== p)) return null;
  const rest = words.slice(path.length);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = v.length === 1 ? v[0] : v;
  for (const [name, p] of Object.entries(positionals)) {
    if (p.list) {
      if (p.required && !rest.length) return null;
      out[camel(name)] = rest.splice(0);
      continue;
    }
    const v = rest.shift();
    if (v === undefined) {
      if (p.required) return null;
      continue;
    }
    if (p.choices && !p.choices.includes(v)) return null;
    out[camel(name)] = v;
  }
  return rest.length ? null : out;
}

// ---------------------------------------------------------------------------
// Running a command.

function usageError(message: string): OstreeTsError {
  return new OstreeTsError(Codes.USAGE, message, { parser: true });
}

function loadYargs(): (a: string[]) => Argv {
  const require = createRequire(import.meta.url);
  return require('yargs/yargs') as (a: string[]) => Argv;
}

function examples(y: Argv, list: Array<[string, string]> = []): Argv {
  for (const [cmd, what] of list) y = y.example(cmd, what);
  return y;
}

/** A verb's yargs command: its options and help, and a handler that hands over the normalised options. */
function verbCommand(name: string, describe: string, verb: Verb, onArgs: (argv: Record<string, unknown>) => Promise<void>, outer: { globals: string[]; group: string[] }) {
  return {
    command: commandString(name, verb.positionals),
    describe,
    builder: (y: Argv): Argv => {
      y = declareOptions(declarePositionals(y, verb.positionals), verb.options);
      // In --help: the verb's own options (by group), then the options of the group it is in, then the global ones.
      for (const [g, keys] of helpGroups(verb.options, verb.groups)) y = y.group(keys, g);
      const ungrouped = Object.entries(verb.options).filter(([, s]) => s.group === undefined).map(([k]) => k);
      if (ungrouped.length || outer.group.length) y = y.group([...ungrouped, ...outer.group], 'Options:');
      y = y.group([...outer.globals, 'help'], 'Global options:');
      y = examples(y, verb.examples);
      if (verb.details) y = y.epilog(verb.details);
      return y;
    },
    handler: (argv: Record<string, unknown>) => onArgs(argv),
  };
}

/** Where a command line points in a command's table. */
interface Target {
  /** The verb names given (`['admin', 'deploy']`); empty without a verb. */
  path: string[];
  entry?: VerbEntry | GroupEntry;
  group?: GroupEntry;
  verb?: VerbEntry;
  /** A name that is not in the table. */
  unknown?: string;
}

function target(program: Program, args: string[]): Target {
  const globalValues = valueNames(program.globals);
  const found = findVerb(args, globalValues);
  if (!found) return { path: [] };
  const entry = program.verbs[found.name];
  if (!entry) return { path: [], unknown: found.name };
  if (!isGroup(entry)) return { path: [found.name], entry, verb: entry };
  const s = findVerb(args, new Set([...globalValues, ...valueNames(entry.options)]), found.at + 1);
  if (!s) return { path: [found.name], entry, group: entry };
  const verb = entry.verbs[s.name];
  if (!verb) return { path: [found.name], entry, group: entry, unknown: s.name };
  return { path: [found.name, s.name], entry, group: entry, verb };
}

/** What a command line asks for: the verb to run and its options, normalised. */
export interface Invocation {
  path: string[];
  verb: Verb;
  options: Record<string, unknown>;
  /** Which parser read the command line. */
  parser: 'plain' | 'yargs';
}

/**
 * Parse `args` for `program`: the plain parser when it can (unless `plain`
 * is false), else yargs. Resolves to null when there is nothing to run (yargs
 * printed the help); a bad command line throws a usage error.
 */
export async function parseCommandLine(program: Program, args: string[], opts: { plain?: boolean } = {}): Promise<Invocation | null> {
  const t = target(program, args);
  if (t.unknown !== undefined) {
    const where = t.group ? `${program.name} ${t.path[0]}` : program.name;
    throw new OstreeTsError(Codes.USAGE, `Unknown ${t.group ? `'${t.path[0]}' ` : ''}command '${t.unknown}'. Run '${where} --help' for the list.`, { command: t.unknown });
  }
  const verb = t.verb ? await t.verb.load() : undefined;
  const groupOptions = t.group?.options ?? {};
  const normalized = (raw: Record<string, unknown>): Record<string, unknown> => ({
    ...normalize(program.globals, raw),
    ...normalize(groupOptions, raw),
    ...normalize(verb?.positionals ?? {}, raw),
    ...normalize(verb?.options ?? {}, raw),
  });
  if (verb && opts.plain !== false) {
    const plain = plainParse(args, t.path, [
      { after: 0, options: program.globals },
      { after: 1, options: groupOptions },
      { after: t.path.length, options: verb.options },
    ], verb.positionals);
    if (plain) return { path: t.path, verb, options: normalized(plain), parser: 'plain' };
  }
  let parsed: Invocation | null = null;
  const capture = async (raw: Record<string, unknown>): Promise<void> => {
    if (verb) parsed = { path: t.path, verb, options: normalized(raw), parser: 'yargs' };
  };
  const globals = Object.keys(program.globals);
  const y = yargs(program, args);
  const [name, subName] = t.path;
  if (t.group) {
    const group = t.group;
    y.command(name, group.describe, (g: Argv): Argv => {
      g = declareOptions(g, group.options, { global: true });
      if (verb && t.verb) return g.command(verbCommand(subName, t.verb.describe, verb, capture, { globals, group: Object.keys(group.options) }));
      for (const [n, v] of Object.entries(group.verbs)) g = g.command(n, v.describe);
      if (group.usage) g = g.usage(group.usage);
      return examples(g, group.examples).demandCommand(1, `Give a command. Run '${program.name} ${name} --help' for the list.`);
    });
  } else if (verb && t.verb) {
    y.command(verbCommand(name, t.verb.describe, verb, capture, { globals, group: [] }));
  } else {
    for (const [n, v] of Object.entries(program.verbs)) y.command(n, v.describe);
    examples(y.usage(program.usage), program.examples);
    if (program.epilog) y.epilog(typeof program.epilog === 'string' ? program.epilog : await program.epilog());
    y.demandCommand(1, `Give a command. Run '${program.name} --help' for the list.`);
  }
  await y.fail((msg: string | null, err: Error | undefined) => {
    if (err) throw err;
    throw usageError(msg ?? 'Bad command line.');
  }).parseAsync();
  return parsed;
}

/** Run `program` on `args`; resolves to the exit status. */
export async function runProgram(program: Program, args: string[]): Promise<number> {
  // A reader that stops early (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const state = { json: args.includes('--json'), verbose: args.includes('--verbose') };
  const usageOf = [program.name, ...target(program, args).path].join(' ');
  try {
    if (args.includes('--version') && !findVerb(args, valueNames(program.globals)) && program.version) {
      process.stdout.write(program.version());
      return 0;
    }
    const call = await parseCommandLine(program, args);
    if (!call) return 0;
    state.json = call.options.json === true;
    state.verbose = call.options.verbose === true;
    return (await call.verb.run(call.options)) ?? 0;
  } catch (e) {
    // The reporter (and its exit-status table) is loaded on a failure only.
    const { reportError } = await import('./report.js');
    // A full disk or quota the library did not tell as such (a writer with no context of its own): still one clean error.
    const { isNoSpace, noSpaceError } = await import('../io/space.js');
    if (isNoSpace(e)) e = await noSpaceError(e, { operation: `running '${usageOf}'`, path: process.cwd() });
    return reportError(e, { json: state.json, verbose: state.verbose, convention: program.convention, usageOf });
  }
}

function yargs(program: Program, args: string[]): Argv {
  let y = loadYargs()(args)
    .scriptName(program.name)
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'duplicate-arguments-array': true, 'boolean-negation': false });
  y = declareOptions(y, program.globals, { global: true });
  return y.help('help').alias('help', 'h').version(false).strict().wrap(Math.min(110, process.stdout.columns || 100));
}

/** The entry point of a command: run it on the process's arguments and set the exit status. */
export function start(program: Program): void {
  void runProgram(program, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
