// cases: what a benchmark group declares, and the rows a run produces.
//
// A group is a list of cases; a case is one operation (say conv2d s1 dW) with one entry per
// implementation (deltagrad f32/f64, the naive loop nest, TF.js cpu and wasm). Each implementation
// prepares its own arrays outside the timed region, reports its outputs once for the correctness
// check against deltagrad's float64 result, and is then timed.
import type { Dt } from './deltagrad.js';
import { relError } from './data.js';
import { timeInterleaved, timeInterleavedAsync, type TimingOptions } from './timing.js';
import { baselineDir, withBaseline } from './baseline.js';
import { pinBackend } from './tfjs.js';

export type ImplId = 'deltagrad' | 'deltagrad-baseline' | 'deltagrad-naive' | 'tfjs-cpu' | 'tfjs-wasm' | 'jax-js' | 'ort';

export interface Prepared {
  /** the timed call (onnxruntime-node's returns a promise: such a case is timed with awaits) */
  run(): void | Promise<void>;
  /** outputs of one call, in deltagrad's layout (checked against the reference) */
  outputs(): Record<string, ArrayLike<number>>;
  dispose?(): void;
}

export interface Impl {
  readonly impl: ImplId;
  readonly dtype: Dt;
  /** a second entry of the same implementation done differently (e.g. a workaround for a missing kernel) */
  readonly variant?: string;
  readonly note?: string;
  /** left out of --quick runs (too slow for a smoke run) */
  readonly skipQuick?: boolean;
  /** left out of every run, with the reason */
  readonly skip?: string;
  /** the float64 result the others are checked against */
  readonly reference?: boolean;
  /** not checked against the reference: it computes something else (the forward beside a backward) */
  readonly unchecked?: boolean;
  setup(): Promise<Prepared> | Prepared;
}

export interface Case {
  readonly group: string;
  readonly name: string;
  readonly op: string;
  /** floating-point operations of one call (multiply and add counted separately), if defined */
  readonly flops?: number;
  readonly skipQuick?: boolean;
  readonly impls: readonly Impl[];
}

export type Status = 'ok' | 'error' | 'skipped';

export interface Row {
  readonly group: string;
  readonly case: string;
  readonly op: string;
  readonly impl: ImplId;
  readonly dtype: Dt;
  readonly variant?: string;
  /** threads (or a peer's workers) the row ran on, where a group compares thread counts: its ratios
   *  are then against the peer at the same count */
  readonly threads?: number;
  readonly status: Status;
  readonly medianMs?: number;
  readonly minMs?: number;
  readonly firstMs?: number;
  readonly firstCpuMs?: number;
  readonly reps?: number;
  readonly inner?: number;
  readonly flops?: number;
  readonly gflops?: number;
  /** process CPU time per call (median over samples) and the share of a core the process got */
  readonly cpuMedianMs?: number;
  readonly cpuShare?: number;
  /** flops / cpuMedianMs: the speed on the CPU time the process actually got */
  readonly cpuGflops?: number;
  /** max |out − ref| / max |ref| over the outputs, against deltagrad float64 */
  readonly relErr?: number;
  readonly note?: string;
}

export interface GroupResult {
  readonly group: string;
  readonly rows: Row[];
  /** peak resident set of the process that ran the group, in MiB */
  readonly maxRssMiB: number;
  readonly wallMs: number;
  /** the register-only loop of timing.calibrate(), run before the group */
  readonly calibration?: { wallGflops: number; cpuGflops: number; share: number };
  readonly info?: Record<string, unknown>;
}

export interface RunOptions {
  readonly quick: boolean;
  readonly timing: TimingOptions;
  readonly log: (line: string) => void;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(4));

/** With a baseline checkout, every deltagrad row gets a twin: the same setup, its kernels emitted by the baseline. */
function withTwins(impls: readonly Impl[]): Impl[] {
  if (!baselineDir) return [...impls];
  return impls.flatMap((im) =>
    im.impl === 'deltagrad' && !im.skip ? [im, { ...im, impl: 'deltagrad-baseline' as const, reference: false, setup: () => withBaseline(() => im.setup()) }] : [im],
  );
}

/**
 * Run every case of a group: prepare every implementation and check its outputs, warm each up, then
 * time them interleaved — one sample of each per round, in an order that rotates every round — so
 * that a slow phase of a shared machine falls on all of them alike. A failing implementation becomes
 * an error row.
 */
export async function runCases(cases: readonly Case[], opts: RunOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) {
    let reference: Record<string, ArrayLike<number>> | undefined;
    const ready: { im: Impl; base: Omit<Row, 'status'>; prepared: Prepared; relErr?: number }[] = [];
    for (const im of withTwins(c.impls).sort((a, b) => Number(Boolean(b.reference)) - Number(Boolean(a.reference)))) {
      const base = { group: c.group, case: c.name, op: c.op, impl: im.impl, dtype: im.dtype, ...(im.variant ? { variant: im.variant } : {}) };
      if (im.skip) {
        rows.push({ ...base, status: 'skipped', note: im.skip });
        continue;
      }
      // --quick: float32 deltagrad kernels only for matmul and the zoo (elsewhere they show what float64 shows)
      const quickF32 = im.impl.startsWith('deltagrad') && im.dtype === 'f32' && (im.impl === 'deltagrad-naive' || (c.group !== 'matmul' && c.group !== 'zoo' && c.group !== 'peers'));
      if (opts.quick && (c.skipQuick || im.skipQuick || quickF32)) {
        rows.push({ ...base, status: 'skipped', note: 'skipped in --quick' });
        continue;
      }
      let prepared: Prepared | undefined;
      try {
        prepared = await im.setup();
        const out = prepared.outputs();
        let relErr: number | undefined;
        if (im.reference) reference = out;
        else if (reference && !im.unchecked) {
          relErr = 0;
          for (const [k, v] of Object.entries(reference)) {
            const mine = out[k];
            relErr = Math.max(relErr, mine ? relError(mine, v) : Infinity);
          }
        }
        // TF.js has one global backend: each of its implementations switches to its own before a sample
        const run = im.impl.startsWith('tfjs') ? pinBackend(prepared.run) : prepared.run;
        ready.push({ im, base, prepared: { ...prepared, run }, ...(relErr !== undefined ? { relErr } : {}) });
      } catch (e) {
        prepared?.dispose?.();
        const msg = (e as Error).message?.split('\n')[0] ?? String(e);
        rows.push({ ...base, status: 'error', note: (im.note ? `${im.note}; ` : '') + msg });
        opts.log(`  ${c.name} ${c.op} ${im.impl} ${im.dtype}: ERROR ${msg}`);
      }
    }
    const fns = ready.map((r) => r.prepared.run);
    const timings = ready.some((r) => r.im.impl === 'ort') ? await timeInterleavedAsync(fns, opts.timing) : timeInterleaved(fns as (() => void)[], opts.timing);
    ready.forEach(({ im, base, relErr, prepared }, k) => {
      const t = timings[k]!;
      prepared.dispose?.();
      if (t instanceof Error) {
        const msg = t.message?.split('\n')[0] ?? String(t);
        rows.push({ ...base, status: 'error', note: (im.note ? `${im.note}; ` : '') + msg });
        opts.log(`  ${c.name} ${c.op} ${im.impl} ${im.dtype}: ERROR ${msg}`);
        return;
      }
      const gflops = c.flops ? c.flops / (t.medianMs * 1e6) : undefined;
      rows.push({
        ...base,
        status: 'ok',
        medianMs: t.medianMs,
        minMs: t.minMs,
        firstMs: t.firstMs,
        firstCpuMs: t.firstCpuMs,
        reps: t.reps,
        inner: t.inner,
        cpuMedianMs: t.cpuMedianMs,
        cpuShare: t.cpuShare,
        ...(c.flops ? { flops: c.flops, gflops, cpuGflops: c.flops / (t.cpuMedianMs * 1e6) } : {}),
        ...(relErr !== undefined ? { relErr } : {}),
        ...(im.note ? { note: im.note } : {}),
      });
      opts.log(
        `  ${c.name} ${c.op} ${im.impl}${im.variant ? ` (${im.variant})` : ''} ${im.dtype}: median ${fmt(t.medianMs)} ms, min ${fmt(t.minMs)} ms` +
          (gflops ? `, ${gflops.toFixed(2)} GFLOP/s` : '') +
          `, cpu share ${t.cpuShare.toFixed(2)}` +
          (relErr !== undefined ? `, err ${relErr.toExponential(1)}` : ''),
      );
    });
  }
  return rows;
}
