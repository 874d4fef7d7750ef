/**
 * A VM that keeps its disk and its firmware variables across boots: boot it
 * again and again as a machine is, print what each boot did, stop at the
 * first power-off.
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { boot, type Boot, type SerialLine } from './qemu.js';
import { OVMF_VARS } from './tools.js';
import type { Disk } from './disk.js';

export interface BootSummary {
  n: number;
  /** The entry the bootloader chose: systemd-boot's LoaderEntrySelected, or GRUB's menu entry and counter. */
  entry: string;
  /** systemd-boot's LoaderBootCountPath (the entry's name after its counter was spent), or 'none'. */
  countPath: string;
  /** Tries left after this boot's decrement ('not counted' when it carries no counter). */
  triesLeft: string;
  version: string | null;
  /** What the health check said, or why the boot never got there. */
  health: string;
  end: Boot['end'];
  seconds: number;
  boot: Boot;
}

function field(line: string | undefined, key: string): string | null {
  if (!line) return null;
  const m = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line);
  return m ? m[1] : null;
}

/** The counter's LEFT of an entry name (`+LEFT[-DONE].conf`), or null. */
export function triesOf(name: string): number | null {
  const m = /\+([0-9]+)(?:-[0-9]+)?\.conf$/.exec(name);
  return m ? Number(m[1]) : null;
}

export function summarize(n: number, b: Boot): BootSummary {
  const find = (s: string) => b.lines.find((l) => l.text.includes(s))?.text;
  // The guest's init says it; a boot that ends in the initramfs, the initramfs.
  const booted = find('VMOS: booted ') ?? find('VMOS-INITRAMFS: entry=');
  const grub = find('VMOS-GRUB:');
  let entry = field(booted, 'entry') ?? 'none';
  const countPath = (field(booted, 'countpath') ?? 'none').replace(/^.*\\/, '');
  let triesLeft = countPath !== 'none' && triesOf(countPath) !== null ? String(triesOf(countPath)) : 'not counted';
  if (grub) {
    entry = `grub menu entry ${field(grub, 'default') ?? '?'}`;
    const c = field(grub, 'boot_counter');
    triesLeft = c ? c : 'not counted';
  }
  const initramfsFail = find('VMOS-INITRAMFS: boot failed');
  const hc = b.lines.find((l) => /^Deployment \S+ \(version/.test(l.text) || /^Deployment \S+:/.test(l.text))?.text;
  const hcEnd = find('VMOS: health-check end');
  let health: string;
  if (initramfsFail) health = `did not boot (${initramfsFail.replace(/^.*boot failed: /, '')})`;
  else if (hc) health = `${hc.replace(/^Deployment \S+ /, '')} [exit ${field(hcEnd, 'status') ?? '?'}]`;
  else if (b.end === 'cut') health = `power cut at "${b.cutAt}"`;
  else health = 'no health check ran';
  return {
    n, entry, countPath, triesLeft, version: field(booted, 'version'), health, end: b.end, seconds: b.seconds, boot: b,
  };
}

export function renderSummary(label: string, s: BootSummary): string {
  return `[${label}] boot ${s.n}: ${s.seconds.toFixed(1)} s, bootloader chose ${s.entry}${s.countPath !== 'none' ? ` (counted as ${s.countPath})` : ''}, tries left ${s.triesLeft}, `
    + `version ${s.version ?? '-'}, health: ${s.health}; ended: ${s.end}`;
}

/**
 * Where to cut the power in one boot, from the guest's progress markers:
 * once `after` has been seen, at the `nth` line matching `at` (QEMU is
 * killed as that line arrives: what the guest made durable before printing
 * it is on the disk, what it was writing next may be half there).
 */
export interface CutPlan {
  after: string;
  at: RegExp;
  nth?: number;
}

export function cutter(plan: CutPlan): (line: string, seen: SerialLine[]) => boolean {
  let armed = false;
  let count = 0;
  return (line) => {
    if (!armed) {
      armed = line.includes(plan.after);
      return false;
    }
    if (plan.at.test(line)) count++;
    return count === (plan.nth ?? 1);
  };
}

export class Machine {
  readonly boots: BootSummary[] = [];

  private constructor(readonly label: string, readonly disk: Disk, readonly vars: string, private readonly log: (s: string) => void) {}

  /** A machine with this disk and fresh firmware variables (a copy of OVMF's template: never the template itself). */
  static async create(label: string, disk: Disk, vars: string, log: (s: string) => void): Promise<Machine> {
    await copyFile(OVMF_VARS, vars);
    return new Machine(label, disk, vars, log);
  }

  /** One boot; `cutAt` cuts the power at a serial line. */
  async bootOnce(cutAt?: (line: string, seen: SerialLine[]) => boolean, timeoutMs = 240_000): Promise<BootSummary> {
    const b = await boot({ disk: this.disk.file, vars: this.vars, timeoutMs, cutAt });
    const s = summarize(this.boots.length + 1, b);
    await writeFile(`${this.disk.file.replace(/\.img$/, '')}-boot${s.n}.log`, b.lines.map((l) => `${l.t.toFixed(2)} ${l.text}\n`).join(''));
    this.boots.push(s);
    this.log(renderSummary(this.label, s));
    if (s.end === 'timeout') this.log(`[${this.label}] the boot ran past its time; its last lines:\n${b.lines.slice(-30).map((l) => `  ${l.t.toFixed(1)} ${l.text}`).join('\n')}`);
    return s;
  }

  /** Boot until the guest powers off (at most `max` boots); the boots made. */
  async bootUntilPoweroff(max: number): Promise<BootSummary[]> {
    const made: BootSummary[] = [];
    for (let i = 0; i < max; i++) {
      const s = await this.bootOnce();
      made.push(s);
      if (s.end === 'poweroff' || s.end === 'timeout' || s.end === 'exit') break;
    }
    return made;
  }
}
