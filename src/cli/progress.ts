import { formatBytes } from '../format/byte-size.js';
import type { PullEvent } from '../transport/pull.js';

/** Progress on a terminal: one line rewritten at most ten times a second; nothing when not a TTY. */
export interface ProgressLine {
  update(text: string): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true): ProgressLine {
  let last = 0;
  let shown = false;
  return {
    update(text: string): void {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[K${text}`);
    },
    done(): void {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

// Byte counts are formatted in format/byte-size.ts; re-exported for the commands that take them from here.
export { formatBytes };

// --------------------------------------------------------------------------
// Pull progress: the library reports events; these turn them into a bar on a
// terminal, a plain line every few seconds in a log, or JSON lines.

/** Where a pull stands, with its rate and what remains: what every renderer shows. */
export interface PullSnapshot {
  /** Seconds since the pull started. */
  elapsed: number;
  fetched: number;
  needed: number;
  metadataFetched: number;
  metadataNeeded: number;
  /** Directories still to read: `needed` may still grow. */
  scanning: boolean;
  bytes: number;
  /** Bytes to receive in all: exact when the commit lists its object sizes, else estimated, or null before any object arrived. */
  bytesTotal: number | null;
  bytesTotalEstimated: boolean;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left, when it can be told (not while scanning). */
  eta: number | null;
}

/** Follows a pull's events and works out rate and ETA; `now` is injectable for tests. */
export class PullTracker {
  private readonly start: number;
  private readonly samples: Array<[number, number]> = [];
  private last: Extract<PullEvent, { type: 'objects' }> | null = null;

  constructor(private readonly now: () => number = Date.now) {
    this.start = now();
  }

  update(e: PullEvent): void {
    if (e.type !== 'objects') return;
    this.last = e;
    const t = this.now();
    // A sample every 100 ms at most, about five seconds of them (at least two).
    const prev = this.samples[this.samples.length - 1];
    if (prev && t - prev[0] < 100 && this.samples.length > 1) prev[1] = e.bytes;
    else this.samples.push([t, e.bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 5000) this.samples.shift();
  }

  snapshot(): PullSnapshot {
    const t = this.now();
    const e = this.last;
    const elapsed = (t - this.start) / 1000;
    if (!e) {
      return { elapsed, fetched: 0, needed: 0, metadataFetched: 0, metadataNeeded: 0, scanning: true, bytes: 0, bytesTotal: null, bytesTotalEstimated: true, rate: 0, eta: null };
    }
    const [t0, b0] = this.samples[0];
    const window = (t - t0) / 1000;
    const rate = window >= 0.5 ? (e.bytes - b0) / window : elapsed > 0 ? e.bytes / elapsed : 0;
    let bytesTotal: number | null = null;
    let estimated = true;
    if (e.neededBytesKnown) {
      bytesTotal = Math.max(e.neededBytes, e.bytes);
      estimated = false;
    } else if (e.fetched > 0) {
      bytesTotal = Math.max(Math.round((e.bytes / e.fetched) * e.needed), e.bytes);
    }
    const scanning = e.scanning > 0;
    let eta: number | null = null;
    if (!scanning && e.needed > 0) {
      if (bytesTotal !== null && rate > 0) eta = Math.max(0, (bytesTotal - e.bytes) / rate);
      else if (e.fetched > 0 && elapsed > 0) eta = ((e.needed - e.fetched) * elapsed) / e.fetched;
    }
    return {
      elapsed, fetched: e.fetched, needed: e.needed, metadataFetched: e.metadataFetched, metadataNeeded: e.metadataNeeded,
      scanning, bytes: e.bytes, bytesTotal, bytesTotalEstimated: estimated, rate, eta,
    };
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** "3012/6700 objects, 23.4 MiB of ~52.0 MiB, 4.5 MiB/s, 7s left" (the plain line, and the bar's text). */
export function describePull(s: PullSnapshot): string {
  const parts = [`${s.fetched}/${s.needed}${s.scanning ? '+' : ''} objects`];
  if (s.bytesTotal !== null) parts.push(`${formatBytes(s.bytes)} of ${s.bytesTotalEstimated ? '~' : ''}${formatBytes(s.bytesTotal)}`);
  else parts.push(formatBytes(s.bytes));
  parts.push(`${formatBytes(Math.round(s.rate))}/s`);
  parts.push(s.eta !== null ? `${formatDuration(s.eta)} left` : s.scanning ? 'scanning' : '');
  return parts.filter(Boolean).join(', ');
}

/** A bar of `width` cells for a fraction done. */
export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export interface PullRenderer {
  onEvent(e: PullEvent): void;
  /** The pull ended (`error` when it failed). */
  finish(error?: unknown): void;
}

/** A bar on a terminal, redrawn at most ten times a second. */
export function ttyPullRenderer(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now, intervalMs = 100): PullRenderer {
  const tracker = new PullTracker(now);
  let last = 0;
  let shown = false;
  const draw = (): void => {
    const s = tracker.snapshot();
    const frac = s.bytesTotal ? s.bytes / s.bytesTotal : s.needed ? s.fetched / s.needed : 0;
    const pct = `${Math.floor(Math.min(1, frac) * 100)}%`.padStart(4);
    const text = `${s.scanning ? 'Scanning ' : 'Receiving'} ${progressBar(frac, 20)} ${pct} ${describePull(s)}`;
    const cols = stream.columns || 100;
    stream.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
    shown = true;
  };
  return {
    onEvent(e: PullEvent): void {
      tracker.update(e);
      if (e.type === 'delta') {
        stream.write(`\r\x1b[KStatic delta: part ${e.partsDone}/${e.partsTotal}, ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)}`);
        shown = true;
        return;
      }
      if (e.type !== 'objects') return;
      const t = now();
      if (t - last < intervalMs) return;
      last = t;
      draw();
    },
    finish(): void {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

/** A plain line at most every `intervalMs` (for logs: stderr that is not a terminal). */
export function plainPullRenderer(stream: NodeJS.WritableStream = process.stderr, intervalMs = 3000, now: () => number = Date.now): PullRenderer {
  const tracker = new PullTracker(now);
  let last = now();
  return {
    onEvent(e: PullEvent): void {
      tracker.update(e);
      if (e.type !== 'objects' && e.type !== 'delta') return;
      const t = now();
      if (t - last < intervalMs) return;
      last = t;
      if (e.type === 'delta') stream.write(`pull: static delta part ${e.partsDone}/${e.partsTotal}, ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)}\n`);
      else stream.write(`pull: ${describePull(tracker.snapshot())}\n`);
    },
    finish(): void {},
  };
}

/** The version of the --json-progress event format. */
export const PULL_PROGRESS_VERSION = 1;

/**
 * One JSON object per line (`{"v":1,"type":...}`): `start`, `commit`,
 * `objects` (at most every `intervalMs`, and once more at the end), `delta`,
 * then `done` with the result, or `error`.
 */
export function jsonPullRenderer(out: NodeJS.WritableStream = process.stdout, intervalMs = 250, now: () => number = Date.now): PullRenderer {
  const tracker = new PullTracker(now);
  let last = -Infinity;
  let pending = false;
  const line = (o: Record<string, unknown>): void => {
    out.write(`${JSON.stringify({ v: PULL_PROGRESS_VERSION, ...o })}\n`);
  };
  const objects = (): void => {
    const s = tracker.snapshot();
    pending = false;
    line({
      type: 'objects', fetched: s.fetched, needed: s.needed, scanning: s.scanning,
      metadata: { fetched: s.metadataFetched, needed: s.metadataNeeded },
      bytes: s.bytes, bytesTotal: s.bytesTotal, bytesTotalEstimated: s.bytesTotalEstimated,
      rate: Math.round(s.rate), eta: s.eta === null ? null : Math.round(s.eta * 10) / 10, elapsed: Math.round(s.elapsed * 1000) / 1000,
    });
  };
  return {
    onEvent(e: PullEvent): void {
      tracker.update(e);
      switch (e.type) {
        case 'start':
          line({ type: 'start', remote: e.remote, dryRun: e.dryRun, refs: e.refs });
          return;
        case 'commit':
          line({ type: 'commit', checksum: e.checksum, ref: e.ref, parent: e.parent });
          return;
        case 'objects': {
          const t = now();
          if (t - last < intervalMs) {
            pending = true;
            return;
          }
          last = t;
          objects();
          return;
        }
        case 'delta': {
          const { type: _t, ...rest } = e;
          line({ type: 'delta', ...rest });
          return;
        }
        case 'done':
          if (pending) objects();
          line({ type: 'done', elapsed: Math.round(tracker.snapshot().elapsed * 1000) / 1000, result: e.result });
      }
    },
    finish(error?: unknown): void {
      if (error === undefined) return;
      if (pending) objects();
      const coded = error as { code?: string; message?: string; data?: unknown };
      line({ type: 'error', code: coded.code ?? 'E_INTERNAL', message: coded.message ?? String(error) });
    },
  };
}
