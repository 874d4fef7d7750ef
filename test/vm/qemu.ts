/**
 * One boot of the VM: QEMU (TCG: no KVM) with OVMF (the code read-only, a
 * copy of the variables per machine), the disk on virtio-blk, the serial
 * console on stdout (every line timed, ANSI escapes stripped), no network,
 * `-no-reboot` (a reboot or a power-off ends QEMU; the markers say which).
 * A watcher can cut the power at a line: QEMU is killed (SIGKILL) there.
 */
import { spawn } from 'node:child_process';
import { OVMF_CODE } from './tools.js';

export interface SerialLine {
  /** Seconds since QEMU started. */
  t: number;
  text: string;
}

export interface Boot {
  lines: SerialLine[];
  /** How it ended: the guest powered off, rebooted, the power was cut, or it ran past its time. */
  end: 'poweroff' | 'reboot' | 'cut' | 'timeout' | 'exit';
  seconds: number;
  /** The line the power was cut at. */
  cutAt?: string;
}

export interface BootOptions {
  disk: string;
  vars: string;
  timeoutMs: number;
  memoryMiB?: number;
  /** True: cut the power now (after this line). */
  cutAt?: (line: string, seen: SerialLine[]) => boolean;
  onLine?: (l: SerialLine) => void;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r/g;

export function boot(o: BootOptions): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const args = [
      '-machine', 'q35,accel=tcg', '-cpu', 'max', '-smp', '1', '-m', String(o.memoryMiB ?? 1024),
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${o.vars}`,
      '-drive', `file=${o.disk},format=raw,if=none,id=disk0,cache=writeback`, '-device', 'virtio-blk-pci,drive=disk0',
      '-nodefaults', '-display', 'none', '-serial', 'stdio', '-net', 'none', '-no-reboot',
    ];
    const start = process.hrtime.bigint();
    const now = (): number => Number(process.hrtime.bigint() - start) / 1e9;
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: SerialLine[] = [];
    let partial = '';
    let cut: string | undefined;
    let timedOut = false;
    let stderr = '';
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      partial += b.toString('latin1');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const raw of parts) {
        const text = raw.replace(ANSI, '').trimEnd();
        if (!text) continue;
        const l = { t: now(), text };
        lines.push(l);
        o.onLine?.(l);
        if (cut === undefined && o.cutAt?.(text, lines)) {
          cut = text;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial.trim()) lines.push({ t: now(), text: partial.replace(ANSI, '').trim() });
      const seconds = now();
      const said = (m: string) => lines.some((l) => l.text.includes(m));
      let end: Boot['end'];
      if (cut !== undefined) end = 'cut';
      else if (timedOut) end = 'timeout';
      else if (said('VMOS: powering off')) end = 'poweroff';
      else if (said('VMOS: rebooting') || said('reboot: Restarting system')) end = 'reboot';
      else end = 'exit';
      if (end === 'exit' && code !== 0) {
        reject(new Error(`qemu-system-x86_64 exited with status ${code}: ${stderr.trim()}`));
        return;
      }
      resolve({ lines, end, seconds, cutAt: cut });
    });
  });
}
