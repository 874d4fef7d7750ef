/**
 * The layering rule: dependencies point down only, third-party and Node
 * imports stay in their layers (format is pure; io alone touches Node's I/O).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ROOT } from './helpers/env.js';

const ALLOWED: Record<string, string[]> = {
  errors: [],
  format: ['errors'],
  io: ['errors'],
  repo: ['errors', 'format', 'io'],
  sign: ['errors', 'format', 'io', 'repo'],
  transport: ['errors', 'format', 'io', 'repo', 'sign'],
  sysroot: ['errors', 'format', 'io', 'repo'],
  host: ['errors', 'format', 'io', 'repo', 'sign', 'transport', 'sysroot'],
  compose: ['errors', 'format', 'io', 'repo', 'sign'],
  cli: ['errors', 'format', 'io', 'repo', 'sign', 'transport', 'sysroot', 'host', 'compose'],
  // src/index.ts: the package's public entry point, re-exporting from the layers' index files.
  'index.ts': ['errors', 'format', 'io', 'repo', 'sign', 'transport', 'sysroot', 'host', 'compose'],
};

/** Third-party packages each layer may import: bindings and codecs in io, yargs in cli, openpgp in sign, the recipe reader and its schema in compose. */
const PACKAGES: Record<string, string[]> = { io: ['*'], cli: ['yargs'], sign: ['openpgp'], compose: ['yaml', 'valibot'] };

/** Node built-ins that mean I/O; only `io` (and the CLI shell) may import them. */
const IO_MODULES = ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:http', 'node:https', 'node:zlib'];
const PURE_OK = ['node:crypto'];

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('every import respects the layer table', async () => {
  const src = path.join(ROOT, 'src');
  const problems: string[] = [];
  for (const file of await sources(src)) {
    const layer = path.relative(src, file).split(path.sep)[0];
    const text = await readFile(file, 'utf8');
    // Static imports and re-exports (`import ... from '...'`, `export ... from '...'`, `import '...'`),
    // and dynamic `import('...')` anywhere; type-only imports do not count.
    const specs = [
      ...[...text.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^;'"]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]),
    ];
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = path.relative(src, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
        if (target !== layer && !(ALLOWED[layer] ?? []).includes(target)) problems.push(`${path.relative(ROOT, file)} imports ${target}`);
      } else if (spec.startsWith('node:')) {
        if (layer === 'format' && !PURE_OK.includes(spec)) problems.push(`${path.relative(ROOT, file)} (pure) imports ${spec}`);
        if (IO_MODULES.includes(spec) && !['io', 'cli'].includes(layer)) problems.push(`${path.relative(ROOT, file)} imports ${spec}; go through src/io`);
      } else if (!(PACKAGES[layer] ?? []).some((p) => p === '*' || spec === p || spec.startsWith(`${p}/`))) {
        problems.push(`${path.relative(ROOT, file)} imports the package ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

/**
 * What the machine is — what booted, its run directory and kernel command
 * line, the clock, the user — reaches these layers only through the host
 * environment (io/host-env.ts), so a test or a simulation can be another host.
 */
const HOST_READS: Array<[RegExp, string]> = [
  [/\bprocess\.getuid\b/, 'process.getuid (use HostEnv.asRoot)'],
  [/\bDate\.now\b/, 'Date.now (use HostEnv.now)'],
  [/\bnew Date\(\)/, 'new Date() (use HostEnv.now)'],
  [/\bprocess\.getgid\b/, 'process.getgid (use Repo.host)'],
  [/['"`]\/(?:run|proc|sys)(?:\/|['"`])/, 'a fixed host path (use HostEnv.runDir, procCmdline)'],
  [/['"`]\/(?:etc|usr\/share)\/ostree\b/, 'a fixed host path (use SYSTEM_TRUST_DIRS from io)'],
];
/** Every layer but io (which is the machine) and the CLI (which builds the real host environment). */
const HOST_ENV_LAYERS = ['errors', 'format', 'repo', 'sign', 'transport', 'sysroot', 'host', 'compose'];

test('no layer above io reads the machine (clock, user, host paths) except through the host environment', async () => {
  const src = path.join(ROOT, 'src');
  const problems: string[] = [];
  for (const layer of HOST_ENV_LAYERS) {
    for (const file of await sources(path.join(src, layer)).catch(() => [] as string[])) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/)/.test(line)) return;
        for (const [re, what] of HOST_READS) if (re.test(line)) problems.push(`${path.relative(ROOT, file)}:${i + 1} reads ${what}`);
      });
    }
  }
  assert.deepEqual(problems, []);
});

/**
 * A layer's public API is what its index.ts re-exports. Other layers may
 * import a module of it directly (the CLI starts faster without loading the
 * whole layer), but only a module the index re-exports, and only the names
 * it re-exports from it.
 */
test('imports into another layer use only what its index.ts exports', async () => {
  const src = path.join(ROOT, 'src');
  const problems: string[] = [];
  const publicApi = new Map<string, Map<string, Set<string> | '*'>>();
  const apiOf = async (layer: string): Promise<Map<string, Set<string> | '*'>> => {
    let api = publicApi.get(layer);
    if (api) return api;
    api = new Map();
    const text = await readFile(path.join(src, layer, 'index.ts'), 'utf8').catch(() => '');
    for (const m of text.matchAll(/^export\s+(?:type\s+)?(\*|\{([^}]*)\})\s+from\s+'\.\/([^']+)\.js'/gm)) {
      const mod = m[3];
      if (m[1] === '*') api.set(mod, '*');
      else {
        const names = api.get(mod);
        const set = names instanceof Set ? names : new Set<string>();
        for (const n of (m[2] ?? '').split(',')) {
          const name = n.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim();
          if (name) set.add(name);
        }
        if (names !== '*') api.set(mod, set);
      }
    }
    publicApi.set(layer, api);
    return api;
  };
  for (const file of await sources(src)) {
    const layer = path.relative(src, file).split(path.sep)[0];
    const text = await readFile(file, 'utf8');
    const imports = [
      ...[...text.matchAll(/^\s*import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(\.[^']+)'/gm)].map((m) => ({ names: m[1], spec: m[2] })),
      ...[...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => ({ names: null, spec: m[1] })),
    ];
    for (const { names, spec } of imports) {
      const rel = path.relative(src, path.resolve(path.dirname(file), spec)).split(path.sep);
      if (rel[0] === layer || rel.length !== 2 || rel[1] === 'index.js') continue;
      const mod = rel[1].replace(/\.js$/, '');
      const exported = (await apiOf(rel[0])).get(mod);
      const where = `${path.relative(ROOT, file)} imports ${rel.join('/')}`;
      if (exported === undefined) {
        problems.push(`${where}, which ${rel[0]}/index.ts does not export`);
        continue;
      }
      if (exported === '*' || names === null) continue;
      for (const n of names.split(',')) {
        const name = n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
        if (name && !exported.has(name)) problems.push(`${where}: ${name} is not in ${rel[0]}/index.ts`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
