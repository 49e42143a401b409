// Next-run computation, paid per scheduled database on every tree render
// (scheduleHealth): a valid expression that never fires (31 February) is the
// worst case. Target: under 20 ms a call (it was 338 ms, minute by minute).
import { nextRun, parseCron, scheduleHealth } from '../src/core/schedule/cron';
import { heading, median, ms, table, target } from './common';

export async function runCronBench(): Promise<void> {
  heading('Schedule: next run (croner), per call');
  const rows: string[][] = [['expression', 'median', 'max', 'next run']];
  const from = new Date('2026-12-02T00:00:00Z');
  let worst = 0;
  for (const e of ['0 2 * * *', '*/5 * * * *', '0 2 13 * 5', '0 0 31 2 *', '0 0 30 2 *']) {
    const s = parseCron(e);
    if (typeof s === 'string') throw new Error(s);
    nextRun(s, from);
    const times: number[] = [];
    let r: Date | undefined;
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      r = nextRun(s, from);
      times.push(performance.now() - t);
    }
    worst = Math.max(worst, median(times));
    rows.push([e, ms(median(times)), ms(Math.max(...times)), r?.toISOString() ?? 'never']);
  }
  console.log(table(rows));
  const t = performance.now();
  for (let i = 0; i < 20; i++) scheduleHealth('0 0 31 2 *', undefined, from, from);
  const health = (performance.now() - t) / 20;
  console.log(
    `  scheduleHealth of a never-firing schedule: ${ms(health)} a call (two next-run computations)`,
  );
  target('next run of a never-firing cron under 20 ms a call', worst < 20, `worst median ${ms(worst)}`);
  await Promise.resolve();
}
