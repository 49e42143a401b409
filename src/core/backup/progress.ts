// What Back Up Now's notification says while the dump runs: the bytes
// written, the rate and — when the size can be guessed — how far it is and
// the time left. The guess is the last backup's size (compressed like this
// one, compared with the bytes written), else the size the database or its
// snapshot reports (compared with the dump's bytes the compressor has read).
import { humanSize } from '../format';

export interface SizeEstimate {
  bytes: number;
  /** snapshot: the engine's snapshot file; database: what the database reports; last: the last backup. */
  from: 'snapshot' | 'database' | 'last';
}

const SOURCES = ['snapshot', 'database', 'last'] as const;

/** An `estimate` mark's value: "<bytes> <from>". */
export function parseEstimate(text: string): SizeEstimate | undefined {
  const [n, from] = text.trim().split(' ');
  const source = SOURCES.find((s) => s === from);
  if (!source || !/^\d+$/.test(n ?? '')) return undefined;
  const bytes = Number(n);
  return bytes > 0 && Number.isSafeInteger(bytes) ? { bytes, from: source } : undefined;
}

/** "45 s", "4 min 05 s", "1 h 20 min". */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** The rate is measured over this many milliseconds of samples (a stall shows within seconds). */
const WINDOW_MS = 5000;
/** No percentage or time left before this much of the work is seen: early guesses swing wildly. */
const MIN_FRACTION = 0.01;

interface Sample {
  at: number;
  written: number;
  measured: number;
}

/** Turns the pipeline's progress marks into the notification's line. */
export class BackupProgressMeter {
  private readonly estimates = new Map<SizeEstimate['from'], number>();
  private readonly samples: Sample[] = [];

  constructor(private readonly startedAt: number) {}

  addEstimate(e: SizeEstimate): void {
    this.estimates.set(e.from, e.bytes);
  }

  /** The estimate to compare with, and which count it is compared with. */
  private target(read: number | undefined): { total: number; measure: 'written' | 'read' } | undefined {
    const last = this.estimates.get('last');
    if (last) return { total: last, measure: 'written' };
    const size = this.estimates.get('snapshot') ?? this.estimates.get('database');
    return size && read !== undefined ? { total: size, measure: 'read' } : undefined;
  }

  /** "12 MB written · 3.1 MB/s · about 40%, 25 s left" (what is not known is left out). */
  update(written: number, read: number | undefined, now: number, what = 'written'): string {
    const target = this.target(read);
    const measured = target?.measure === 'read' ? (read ?? 0) : written;
    this.samples.push({ at: now, written, measured });
    while (this.samples.length > 2 && this.samples[1].at <= now - WINDOW_MS) this.samples.shift();
    const first = this.samples.length > 1 ? this.samples[0] : { at: this.startedAt, written: 0, measured: 0 };
    const seconds = (now - first.at) / 1000;
    const parts = [`${humanSize(written)} ${what}`];
    if (seconds > 0) parts.push(`${humanSize(Math.round(Math.max(0, written - first.written) / seconds))}/s`);
    if (target) {
      const fraction = measured / target.total;
      if (fraction >= MIN_FRACTION && fraction < 1) {
        const rate = seconds > 0 ? (measured - first.measured) / seconds : 0;
        const left = rate > 0 ? `, ${humanDuration((target.total - measured) / rate)} left` : '';
        parts.push(`about ${Math.floor(fraction * 100)}%${left}`);
      } else if (fraction >= 1) {
        parts.push(`past the estimate of ${humanSize(target.total)}`);
      }
    } else {
      parts.push(humanDuration((now - this.startedAt) / 1000));
    }
    return parts.join(' · ');
  }
}
