// The browser-threads bench group's page harness (bench/browser/page.ts) at tiny sizes: in a cross-origin
// isolated Chromium page deltagrad (one thread and two) and jax-js (one worker and two) compute every
// shared case, agree within float32 rounding, start the workers they were asked for (jax-js's two
// pools forced through navigator.hardwareConcurrency; deltagrad none at these sizes), and come out
// as rows whose × jax-js is against jax-js at the same thread count.
import { describe, expect, it } from 'vitest';
import { browserThreadsRows } from '../../bench/groups/browserThreads.js';
import { ratiosFor } from '../../bench/lib/report.js';
import { browserCases } from '../../bench/browser/cases.js';

describe('browser-threads bench page', () => {
  it('deltagrad at 1 and 2 threads and jax-js at 1 and 2 workers give the same numbers on every shared case', async () => {
    const log: string[] = [];
    const { rows, info } = await browserThreadsRows({ quick: true, log: (l) => log.push(l), page: { quick: '0', tiny: '1', rounds: '1', sampleMs: '0', warmupMs: '0', budgetMs: '0' } });
    expect(rows.filter((r) => r.status !== 'ok').map((r) => `${r.case} ${r.impl} ${r.variant}: ${r.note}`)).toEqual([]);
    const cases = browserCases(true);
    expect(rows).toHaveLength(cases.length * 4);
    for (const c of cases) {
      const mine = rows.filter((r) => r.case === c.name && r.op === c.op);
      expect(mine.map((r) => `${r.impl} ${r.threads}`).sort()).toEqual(['deltagrad 1', 'deltagrad 2', 'jax-js 1', 'jax-js 2']);
      // the reference is deltagrad at one thread; two threads give its bits, jax-js float32 rounding
      for (const r of mine) if (!(r.impl === 'deltagrad' && r.threads === 1)) expect(r.relErr, `${c.name} ${c.op} ${r.impl} ${r.variant}`).toBeLessThan(r.impl === 'deltagrad' ? 1e-12 : 1e-5);
      for (const threads of [1, 2]) {
        const dg = mine.find((r) => r.impl === 'deltagrad' && r.threads === threads)!;
        const jax = mine.find((r) => r.impl === 'jax-js' && r.threads === threads)!;
        expect(ratiosFor(dg, rows)?.jax).toBeCloseTo(jax.medianMs! / dg.medianMs!, 10);
      }
    }
    // at these tiny sizes no kernel pays for threads (plan/worthSharing.ts): deltagrad's two threads
    // run every call on the page's thread and start no worker (at the bench's sizes they start 2)
    expect(info.workersStarted).toEqual({ 'deltagrad (1 thread)': 0, 'deltagrad (2 threads)': 0, 'jax-js (1 worker)': 1, 'jax-js (2 workers)': 2 });
    expect(info.pageErrors).toEqual([]);
  });
});
