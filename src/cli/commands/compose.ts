import * as os from 'node:os';
import * as path from 'node:path';
import { buildPlan, compose, fileRecipeReader, loadRecipe, renderPlan, type ComposeResult } from '../../compose/index.js';
import { aptMirrorFor } from '../../io/apt-sources.js';
import { openRepo, verb, write } from '../common.js';
import { arg, flag, JSON_OPTION, str } from '../options.js';
import { formatBytes, progressLine } from '../progress.js';
import { warn } from '../report.js';

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.OSTREE_TS_CACHE_DIR) return env.OSTREE_TS_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ostree-ts', 'compose');
}

function sourceDateEpoch(env: NodeJS.ProcessEnv): bigint | undefined {
  const s = env.SOURCE_DATE_EPOCH;
  if (s === undefined || s === '') return undefined;
  if (!/^\d+$/.test(s)) {
    warn(`SOURCE_DATE_EPOCH=${s} is not a number of seconds; ignored`);
    return undefined;
  }
  return BigInt(s);
}

function render(r: ComposeResult): string {
  const lines: string[] = [];
  if (r.unchanged) lines.push(`${r.ref} unchanged: the inputs give the commit it already names`);
  else lines.push(`${r.ref} -> ${r.checksum}${r.previous ? ` (was ${r.previous.slice(0, 12)})` : ' (its first commit)'}`);
  lines.push(`  commit:   ${r.checksum}`);
  if (r.version !== undefined) lines.push(`  version:  ${r.version}`);
  lines.push(`  size:     ${r.files} files, ${formatBytes(r.bytes)}`);
  lines.push(`  kernel:   ${r.kernel ?? 'none (not bootable)'}`);
  lines.push(`  signed:   ${r.signed ? 'yes' : 'no'}`);
  if (r.changes) {
    lines.push(`  changes:  ${r.changes.added} added, ${r.changes.removed} removed, ${r.changes.modified} modified`);
    for (const b of r.changes.biggest) lines.push(`            ${b.change === 'added' ? 'A' : 'M'} ${b.path} (${formatBytes(b.size)})`);
  }
  return `${lines.join('\n')}\n`;
}

const jsonable = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

export default verb({
  positionals: { recipe: arg('The recipe (YAML)') },
  options: {
    'dry-run': flag('Print the plan (every step, and where the recipe asks for it) and stop: nothing is built or written'),
    'sign-key': str("Sign with this key file instead of the recipe's sign.key (ed25519: base64 secret key)"),
    'cache-dir': str('Where mmdebstrap outputs are cached by their inputs (default: $OSTREE_TS_CACHE_DIR or ~/.cache/ostree-ts/compose)'),
    json: JSON_OPTION,
  },
  examples: [
    ['$0 compose recipes/hello-os.yaml --repo=repo --dry-run', 'What the recipe will do'],
    ['$0 compose recipes/hello-os.yaml --repo=repo --sign-key=keys/secret.ed25519', 'Build, commit, sign and move the ref'],
  ],
  details: 'A recipe names a ref, a base (tarball, directory, ref or a Debian tree from mmdebstrap), layers, files, removals, postprocess scripts and health checks. '
    + 'compose lays them out in a staged tree, applies the OSTree conventions (each reported), commits it with the timestamp of the recipe or SOURCE_DATE_EPOCH, signs it, and moves the ref last. '
    + 'The same inputs give the same commit; a failure commits nothing and leaves the ref where it was.',
  async run(o) {
    const recipe = await loadRecipe(path.resolve(o.recipe), fileRecipeReader());
    const plan = buildPlan(recipe, { sourceDateEpoch: sourceDateEpoch(process.env), signKey: o.signKey });
    if (o.dryRun) {
      write(o.json ? `${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'ComposePlan', ...plan }, jsonable, 2)}\n` : renderPlan(plan));
      return;
    }
    const repo = await openRepo(o);
    if (!o.json) write(renderPlan(plan));
    const progress = progressLine();
    const result = await compose(repo, recipe, plan, {
      asRoot: process.getuid?.() === 0,
      cacheDir: o.cacheDir ?? defaultCacheDir(process.env),
      aptMirror: (suite) => aptMirrorFor(suite),
      signKey: o.signKey,
      onWarning: warn,
      onNote: (n) => {
        progress.done();
        if (n.level === 'warning') warn(`${n.step}: ${n.message}`);
        else if (!o.json) write(`  ${n.step}: ${n.message}\n`);
      },
      onProgress: (e) => progress.update(e.message),
    });
    progress.done();
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'ComposeResult', ...result }, jsonable, 2)}\n`);
      return;
    }
    write(render(result));
  },
});
