// timing: median and min of repeated calls, after warm-up.
//
// A sample is `inner` back-to-back calls (chosen so a sample lasts at least `sampleMs`, so that
// microsecond kernels are not lost in timer resolution); the time per call is sample / inner.
// Worked example: time(() => kernel(t, s), { reps: 10, warmupMs: 200, sampleMs: 5 })
//   → { medianMs, minMs, reps: 10, inner, firstMs, cpuMedianMs, cpuShare } where firstMs is the very
//   first (cold) call. On a shared machine the process does not get a whole core: cpuShare is the CPU
//   time it got over the wall time, and cpuMedianMs (process CPU time per call, all threads — the
//   kernels are single-threaded) is close to what the call takes on an idle core.

export interface TimingOptions {
  /** timed samples (at least) */
  readonly reps: number;
  /** keep calling before timing until this much time has passed and `warmupCalls` calls were made (one call only when a call is slower than this) */
  readonly warmupMs: number;
  /** at least this many warm-up calls (default 2): the optimizing compiler needs a few whole calls, not just on-stack replacement */
  readonly warmupCalls?: number;
  /** a sample lasts at least this long (several calls when one call is shorter) */
  readonly sampleMs: number;
  /** (--quick) when the first call takes longer than this, skip the warm-up and time one more call only */
  readonly slowMs?: number;
}

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly reps: number;
  readonly inner: number;
  /** the first call, before any warm-up (includes JIT compilation), wall and CPU time */
  readonly firstMs: number;
  readonly firstCpuMs: number;
  /** per-call time of every sample, in order */
  readonly samplesMs: number[];
  /** median over samples of the process CPU time (user + system) per call */
  readonly cpuMedianMs: number;
  /** CPU time / wall time over the timed samples: the share of a core the process got (≈ 1 on an idle machine) */
  readonly cpuShare: number;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function time(fn: () => void, opts: TimingOptions): Timing {
  const fc0 = process.cpuUsage();
  let t0 = performance.now();
  fn();
  const firstMs = performance.now() - t0;
  const fc = process.cpuUsage(fc0);
  const firstCpuMs = (fc.user + fc.system) / 1000;
  if (opts.slowMs !== undefined && firstMs > opts.slowMs) {
    t0 = performance.now();
    fn();
    const c0 = process.cpuUsage();
    fn();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000;
    return { medianMs: ms, minMs: ms, reps: 1, inner: 1, firstMs, firstCpuMs, samplesMs: [ms], cpuMedianMs: cpuMs, cpuShare: cpuMs / ms };
  }
  // warm-up: JIT tiers settle; also estimates the per-call time
  let calls = 0;
  let spent = 0;
  t0 = performance.now();
  while (spent < opts.warmupMs || calls < (opts.warmupCalls ?? 2)) {
    if (calls >= 1 && firstMs > opts.warmupMs) break;
    fn();
    calls++;
    spent = performance.now() - t0;
  }
  const perCall = calls ? spent / calls : firstMs;
  const inner = Math.max(1, Math.ceil(opts.sampleMs / Math.max(perCall, 1e-4)));
  const samplesMs: number[] = [];
  const cpuMs: number[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const c0 = process.cpuUsage();
    const s0 = performance.now();
    for (let k = 0; k < inner; k++) fn();
    samplesMs.push((performance.now() - s0) / inner);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000 / inner);
  }
  const wall = samplesMs.reduce((a, b) => a + b, 0);
  const cpu = cpuMs.reduce((a, b) => a + b, 0);
  return { medianMs: median(samplesMs), minMs: Math.min(...samplesMs), reps: opts.reps, inner, firstMs, firstCpuMs, samplesMs, cpuMedianMs: median(cpuMs), cpuShare: cpu / wall };
}

/**
 * How fast this core is right now: a register-only loop (8 independent multiply-add chains, no memory
 * traffic). On an idle core of these machines it runs at about 7.5–10 GFLOP/s; on CPU time it stays
 * near that under load, on wall time it drops with the share of the core the process gets.
 */
export function calibrate(): { wallGflops: number; cpuGflops: number; share: number } {
  const chains = (n: number) => {
    let a0 = 1, a1 = 1, a2 = 1, a3 = 1, a4 = 1, a5 = 1, a6 = 1, a7 = 1;
    const m = 0.9999999;
    const c = 1e-7;
    for (let i = 0; i < n; i++) {
      a0 = a0 * m + c;
      a1 = a1 * m + c;
      a2 = a2 * m + c;
      a3 = a3 * m + c;
      a4 = a4 * m + c;
      a5 = a5 * m + c;
      a6 = a6 * m + c;
      a7 = a7 * m + c;
    }
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  };
  chains(1e6);
  const n = 2e7;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (chains(n) === 0) throw new Error('unreachable');
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000;
  return { wallGflops: (16 * n) / (wall * 1e6), cpuGflops: (16 * n) / (cpu * 1e6), share: cpu / wall };
}

/**
 * time() for several functions at once: each is called once cold and warmed up on its own, then the
 * samples are taken in rounds — one sample of each per round, the order rotated every round — so
 * that the machine's slow and fast phases fall on every function alike.
 */
export function timeInterleaved(fns: readonly (() => void)[], opts: TimingOptions): (Timing | Error)[] {
  const failed = new Map<number, Error>();
  const prep = fns.map((fn, k) => {
    try {
      return warm(fn, opts);
    } catch (e) {
      failed.set(k, e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
  });
  const reps = fns.length && prep.some((p) => p && (p.inner > 1 || opts.slowMs === undefined)) ? opts.reps : 1;
  for (let r = 0; r < reps; r++)
    for (let k = 0; k < fns.length; k++) {
      const i = (k + r) % fns.length;
      const p = prep[i];
      if (!p || failed.has(i)) continue;
      try {
        const c0 = process.cpuUsage();
        const s0 = performance.now();
        for (let n = 0; n < p.inner; n++) fns[i]!();
        p.samples.push((performance.now() - s0) / p.inner);
        const c = process.cpuUsage(c0);
        p.cpu.push((c.user + c.system) / 1000 / p.inner);
      } catch (e) {
        failed.set(i, e instanceof Error ? e : new Error(String(e)));
      }
    }
  return summarise(prep, failed);
}

/**
 * timeInterleaved for a list in which some calls return a promise (onnxruntime-node's session.run):
 * the same rounds, each call awaited (an await costs about a microsecond; the cases are milliseconds).
 */
export async function timeInterleavedAsync(fns: readonly (() => void | Promise<void>)[], opts: TimingOptions): Promise<(Timing | Error)[]> {
  const failed = new Map<number, Error>();
  const prep: (Prepared | undefined)[] = [];
  for (const [k, fn] of fns.entries()) {
    try {
      const c0 = process.cpuUsage();
      let t0 = performance.now();
      await fn();
      const firstMs = performance.now() - t0;
      const fc = process.cpuUsage(c0);
      let calls = 0;
      t0 = performance.now();
      while (performance.now() - t0 < opts.warmupMs || calls < (opts.warmupCalls ?? 2)) {
        await fn();
        calls++;
      }
      const perCall = (performance.now() - t0) / calls;
      prep.push({ firstMs, firstCpuMs: (fc.user + fc.system) / 1000, inner: Math.max(1, Math.ceil(opts.sampleMs / Math.max(perCall, 1e-4))), samples: [], cpu: [] });
    } catch (e) {
      failed.set(k, e instanceof Error ? e : new Error(String(e)));
      prep.push(undefined);
    }
  }
  for (let r = 0; r < opts.reps; r++)
    for (let k = 0; k < fns.length; k++) {
      const i = (k + r) % fns.length;
      const p = prep[i];
      if (!p || failed.has(i)) continue;
      try {
        const c0 = process.cpuUsage();
        const s0 = performance.now();
        for (let n = 0; n < p.inner; n++) await fns[i]!();
        p.samples.push((performance.now() - s0) / p.inner);
        const c = process.cpuUsage(c0);
        p.cpu.push((c.user + c.system) / 1000 / p.inner);
      } catch (e) {
        failed.set(i, e instanceof Error ? e : new Error(String(e)));
      }
    }
  return summarise(prep, failed);
}

/** A function's cold call, how many calls make a sample, and the samples taken so far. */
interface Prepared {
  readonly firstMs: number;
  readonly firstCpuMs: number;
  readonly inner: number;
  readonly samples: number[];
  readonly cpu: number[];
}

/** Each function's Timing from its samples, or the Error it threw (timeInterleaved and its async twin). */
function summarise(prep: readonly (Prepared | undefined)[], failed: ReadonlyMap<number, Error>): (Timing | Error)[] {
  return prep.map((p, k) => {
    if (!p || failed.has(k)) return failed.get(k)!;
    const wall = p.samples.reduce((a, b) => a + b, 0);
    const cpu = p.cpu.reduce((a, b) => a + b, 0);
    return { medianMs: median(p.samples), minMs: Math.min(...p.samples), reps: p.samples.length, inner: p.inner, firstMs: p.firstMs, firstCpuMs: p.firstCpuMs, samplesMs: p.samples, cpuMedianMs: median(p.cpu), cpuShare: cpu / wall };
  });
}

/** The cold first call, the warm-up, and how many calls make a sample. */
function warm(fn: () => void, opts: TimingOptions): Prepared {
  const fc0 = process.cpuUsage();
  let t0 = performance.now();
  fn();
  const firstMs = performance.now() - t0;
  const fc = process.cpuUsage(fc0);
  let calls = 0;
  let spent = 0;
  t0 = performance.now();
  const slow = opts.slowMs !== undefined && firstMs > opts.slowMs;
  while (!slow && (spent < opts.warmupMs || calls < (opts.warmupCalls ?? 2))) {
    if (calls >= 1 && firstMs > opts.warmupMs) break;
    fn();
    calls++;
    spent = performance.now() - t0;
  }
  const perCall = calls ? spent / calls : firstMs;
  return { firstMs, firstCpuMs: (fc.user + fc.system) / 1000, inner: slow ? 1 : Math.max(1, Math.ceil(opts.sampleMs / Math.max(perCall, 1e-4))), samples: [], cpu: [] };
}
