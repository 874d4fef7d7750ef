/**
 * The build plan: every step a recipe asks for, in the order compose runs
 * them, worked out before anything is read or written (pure). `--dry-run`
 * prints it; the build follows it.
 */
import type { BaseSource, LayerSource, Recipe, SourcePos } from './recipe.js';

export interface PlanStep {
  /** base, layer, files, remove, postprocess, checks, conventions, commit, sign. */
  step: string;
  what: string;
  at?: SourcePos;
}

export interface BuildPlan {
  ref: string;
  version?: string;
  /** Seconds since the epoch, or null for the time of the build (not reproducible). */
  timestamp: bigint | null;
  timestampFrom: 'SOURCE_DATE_EPOCH' | 'recipe' | 'build time';
  bootable: boolean;
  steps: PlanStep[];
}

export interface PlanOptions {
  /** SOURCE_DATE_EPOCH, when the environment sets it: it wins over the recipe's timestamp. */
  sourceDateEpoch?: bigint;
  /** A key given on the command line, replacing the recipe's `sign.key`. */
  signKey?: string;
}

function where(at: SourcePos | undefined): string {
  return at ? `${at.file}:${at.line}` : '';
}

export function describeSource(s: BaseSource | LayerSource): string {
  switch (s.kind) {
    case 'tarball': return `tarball ${s.path}`;
    case 'directory': return `directory ${s.path}`;
    case 'ref': return `the tree of ${s.rev} in the repository`;
    case 'git': return `git ${s.repo} at ${s.rev}${s.subdir ? `, subdirectory ${s.subdir}` : ''}`;
    case 'debian': return `Debian ${s.suite} (mmdebstrap, variant ${s.variant}${s.include.length ? `, with ${s.include.join(', ')}` : ''}; components ${s.components.join(', ')}${s.architectures.length ? `; ${s.architectures.join(', ')}` : ''}) from ${s.mirror ?? "this machine's apt mirror"}, cached by its inputs`;
  }
}

export function buildPlan(recipe: Recipe, opts: PlanOptions = {}): BuildPlan {
  const steps: PlanStep[] = [];
  steps.push({ step: 'base', what: describeSource(recipe.base), at: recipe.base.at });
  recipe.layers.forEach((l, i) => steps.push({ step: `layer ${i + 1}`, what: describeSource(l), at: l.at }));
  for (const f of recipe.files) {
    steps.push({ step: 'file', what: `/${f.path} (${f.content.length} bytes, mode 0${f.mode.toString(8)}, owner ${f.uid}:${f.gid})`, at: f.at });
  }
  for (const r of recipe.remove) steps.push({ step: 'remove', what: r.glob, at: r.at });
  for (const p of recipe.postprocess) steps.push({ step: 'postprocess', what: `"${p.name}" (timeout ${p.timeout} s): in a chroot when run as root and the tree has /bin/sh, else with the tree's path`, at: p.at });
  for (const c of recipe.checks) steps.push({ step: 'check', what: `usr/lib/greenboot/check/${c.kind}.d/${c.name}`, at: c.at });
  steps.push({ step: 'conventions', what: 'device nodes, sockets and FIFOs dropped; /tmp and /run emptied; the kernel and initramfs into usr/lib/modules/KVER/; /etc to /usr/etc; /var content to usr/lib/tmpfiles.d entries' });
  steps.push({ step: 'bootable', what: recipe.bootable ? 'a kernel is required (ostree.bootable metadata)' : 'not bootable: no kernel required' });
  let timestamp: bigint | null = null;
  let timestampFrom: BuildPlan['timestampFrom'] = 'build time';
  if (opts.sourceDateEpoch !== undefined) {
    timestamp = opts.sourceDateEpoch;
    timestampFrom = 'SOURCE_DATE_EPOCH';
  } else if (recipe.timestamp !== undefined) {
    timestamp = recipe.timestamp;
    timestampFrom = 'recipe';
  }
  steps.push({
    step: 'commit',
    what: `to ${recipe.ref}${recipe.version ? `, version ${recipe.version}` : ''}, time ${timestamp === null ? 'now (not reproducible: set timestamp: or SOURCE_DATE_EPOCH)' : `${timestamp} (from ${timestampFrom})`}; unchanged inputs give the commit already there`,
  });
  const key = opts.signKey ?? recipe.sign?.key;
  if (key) steps.push({ step: 'sign', what: `${recipe.sign?.type ?? 'ed25519'} with ${key}`, at: opts.signKey ? undefined : recipe.sign?.at });
  return { ref: recipe.ref, version: recipe.version, timestamp, timestampFrom, bootable: recipe.bootable, steps };
}

export function renderPlan(plan: BuildPlan): string {
  const lines = [`Plan for ${plan.ref}${plan.version ? ` ${plan.version}` : ''}:`];
  plan.steps.forEach((s, i) => {
    const at = where(s.at);
    lines.push(`  ${String(i + 1).padStart(2)}. ${s.step}: ${s.what}${at ? `  [${at}]` : ''}`);
  });
  return `${lines.join('\n')}\n`;
}
