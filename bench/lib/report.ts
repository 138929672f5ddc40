// report: ratios to peers, the bar of issue 4, the console table and RESULTS.md.
//
// A ratio is peer median / deltagrad median of the same case and op, measured in the same run:
// 3.0× means deltagrad takes a third of the peer's time. TF.js runs float32 only, so both deltagrad
// dtypes are compared with TF.js float32; the naive loop nest is compared at the same dtype.
// Everything is computed twice: on wall-clock medians (the issue's measure) and on process CPU time
// per call (on a machine shared with other jobs, the process gets only part of a core; CPU time is
// close to what an idle core would give).
import type { GroupResult, Row } from './cases.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly date: string;
  readonly loadavgStart: number[];
  readonly loadavgEnd?: number[];
  /** the commit measured, and the files under src/ and generated/ that differed from it */
  readonly git?: { commit: string; dirty: string[] };
}

export interface Ratios {
  cpu?: number;
  wasm?: number;
  /** true when the WASM ratio is against the workaround variant (the standard TF.js path has no kernel) */
  wasmVariant?: boolean;
  naive?: number;
  /** jax-js (WebAssembly, one thread in Node) and onnxruntime-node (native CPU, one thread), float32 */
  jax?: number;
  ort?: number;
}

export interface Bar {
  readonly bar: string;
  readonly subject: string;
  /** on wall-clock medians (the issue's measure) */
  readonly value: string;
  readonly pass: boolean | undefined;
  /** the same on CPU-time medians (what the process got of a core on this shared machine) */
  readonly valueCpu: string;
  readonly passCpu: boolean | undefined;
  readonly target: string;
  readonly note?: string;
}

export type RowOut = Row & { ratios?: Ratios; cpuRatios?: Ratios };

export interface Results {
  readonly machine: Machine;
  readonly mode: 'full' | 'quick';
  readonly groups: { group: string; maxRssMiB: number; wallMs: number; calibration?: { wallGflops: number; cpuGflops: number; share: number }; info?: Record<string, unknown> }[];
  readonly rows: RowOut[];
  readonly bars: Bar[];
}

type Metric = 'wall' | 'cpu';
const ms = (r: Row, m: Metric) => (m === 'wall' ? r.medianMs : r.cpuMedianMs);
const ok = (r: Row | undefined) => (r && r.status === 'ok' && r.medianMs !== undefined ? r : undefined);

/** Peer median / deltagrad median for a deltagrad row, on wall or CPU time. */
export function ratiosFor(row: Row, all: readonly Row[], metric: Metric = 'wall'): Ratios | undefined {
  // a row of a thread-count comparison (browser-threads) has a variant and is compared at its count
  if (row.impl !== 'deltagrad' || row.status !== 'ok' || (row.variant && row.threads === undefined)) return undefined;
  const same = all.filter((r) => r.case === row.case && r.op === row.op);
  const cpu = ok(same.find((r) => r.impl === 'tfjs-cpu' && !r.variant));
  const wasmStd = ok(same.find((r) => r.impl === 'tfjs-wasm' && !r.variant));
  const wasm = wasmStd ?? ok(same.find((r) => r.impl === 'tfjs-wasm' && r.variant));
  const naive = ok(same.find((r) => r.impl === 'deltagrad-naive' && r.dtype === row.dtype));
  const m = ms(row, metric);
  if (m === undefined) return undefined;
  const ratio = (peer: Row) => {
    const p = ms(peer, metric);
    return p === undefined ? undefined : p / m;
  };
  const out: Ratios = {};
  if (cpu) out.cpu = ratio(cpu);
  if (wasm) {
    out.wasm = ratio(wasm);
    if (!wasmStd) out.wasmVariant = true;
  }
  if (naive) out.naive = ratio(naive);
  const jax = ok(same.find((r) => r.impl === 'jax-js' && r.threads === row.threads));
  const ort = ok(same.find((r) => r.impl === 'ort'));
  if (jax) out.jax = ratio(jax);
  if (ort) out.ort = ratio(ort);
  return out;
}

const find = (rows: readonly RowOut[], pred: (r: RowOut) => boolean) => rows.find((r) => pred(r) && r.status === 'ok');
const x = (v: number | undefined) => (v === undefined ? 'not measured' : `${v.toFixed(1)}×`);

interface Check {
  value: string;
  pass: boolean | undefined;
}

function barsOn(rows: readonly RowOut[], metric: Metric): { bar: string; subject: string; target: string; note?: string; check: Check }[] {
  const out: { bar: string; subject: string; target: string; note?: string; check: Check }[] = [];
  const dg = (caseStart: string, op: string, dt: string) => find(rows, (r) => r.impl === 'deltagrad' && !r.variant && r.case.startsWith(caseStart) && r.op === op && r.dtype === dt);
  const gflops = (r: Row | undefined) => (metric === 'wall' ? r?.gflops : r?.cpuGflops);
  const ratios = (r: RowOut | undefined) => (metric === 'wall' ? r?.ratios : r?.cpuRatios);
  const gf = (g: number | undefined) => (g !== undefined ? `${g.toFixed(2)} GFLOP/s` : 'not measured');
  for (const dt of ['f32', 'f64']) {
    const mm = [
      ...[256, 512, 1024].map((n) => [`matmul ${n}³`, `matmul ${n}³`, 'Y = A·B'] as const),
      ['dense dX', 'dense', 'dX'] as const,
      ['dense dW', 'dense', 'dW'] as const,
    ];
    for (const [label, start, op] of mm) {
      const r = dg(start, op, dt);
      const g = gflops(r);
      const c = ratios(r)?.cpu;
      out.push({
        bar: 'matmul-shaped ≥ 4 GFLOP/s and ≥ 5× TF.js CPU',
        subject: `${label} ${dt}`,
        target: '≥ 4 GFLOP/s, ≥ 5×',
        check: { value: `${gf(g)}, ${x(c)} TF.js CPU`, pass: g === undefined || c === undefined ? undefined : g >= 4 && c >= 5 },
      });
    }
    for (const which of ['s1', 's2'])
      for (const op of ['fwd', 'dX', 'dW']) {
        const r = dg(`conv2d ${which}`, op, dt);
        const g = gflops(r);
        const c = ratios(r)?.cpu;
        const isDw = op === 'dW';
        out.push({
          bar: isDw ? 'conv dW ≥ 2 GFLOP/s and ≥ 100× TF.js CPU' : 'conv fwd/dX ≥ 2 GFLOP/s',
          subject: `conv2d ${which} ${op} ${dt}`,
          target: isDw ? '≥ 2 GFLOP/s, ≥ 100×' : '≥ 2 GFLOP/s',
          check: {
            value: isDw ? `${gf(g)}, ${x(c)} TF.js CPU` : gf(g),
            pass: g === undefined || (isDw && c === undefined) ? undefined : g >= 2 && (!isDw || c! >= 100),
          },
        });
      }
  }
  const step = find(rows, (r) => r.group === 'cnn' && r.impl === 'deltagrad' && !r.variant);
  const wasmStd = rows.find((r) => r.group === 'cnn' && r.impl === 'tfjs-wasm' && !r.variant);
  const wasmVar = find(rows, (r) => r.group === 'cnn' && r.impl === 'tfjs-wasm' && r.variant !== undefined);
  const wasmPeer = ok(wasmStd) ?? wasmVar;
  const t = (r: Row) => ms(r, metric)!;
  out.push({
    bar: 'CNN step faster than TF.js WASM',
    subject: 'MNIST CNN step f64',
    target: '< TF.js WASM',
    ...(!ok(wasmStd) && wasmVar ? { note: 'TF.js WASM cannot run the standard step (no Conv2DBackpropFilter kernel); compared with its slice+matmul variant' } : {}),
    check:
      step && wasmPeer
        ? { value: `${t(step).toFixed(1)} ms vs ${t(wasmPeer).toFixed(1)} ms (${x(t(wasmPeer) / t(step))})`, pass: t(step) < t(wasmPeer) }
        : { value: 'not measured', pass: undefined },
  });
  const cpuStep = find(rows, (r) => r.group === 'cnn' && r.impl === 'tfjs-cpu' && !r.variant);
  out.push({
    bar: 'CNN step ≥ 10× TF.js CPU',
    subject: 'MNIST CNN step f64',
    target: '≥ 10×',
    check:
      step && cpuStep
        ? { value: `${t(step).toFixed(1)} ms vs ${t(cpuStep).toFixed(1)} ms (${x(t(cpuStep) / t(step))})`, pass: t(cpuStep) / t(step) >= 10 }
        : { value: 'not measured', pass: undefined },
  });
  for (const threads of [1, 2]) {
    // issue 19: in a browser page, each shared case at least as fast as jax-js at the same thread count
    const mine = rows.filter((r) => r.group === 'browser-threads' && r.impl === 'deltagrad' && r.threads === threads && r.status === 'ok');
    const vs = mine.flatMap((r) => (ratios(r)?.jax !== undefined ? [{ r, x: ratios(r)!.jax! }] : []));
    const worst = vs.reduce<(typeof vs)[number] | undefined>((w, v) => (!w || v.x < w.x ? v : w), undefined);
    out.push({
      bar: 'browser: every shared case ≥ 1.0× jax-js at the same thread count',
      subject: `${threads} thread${threads > 1 ? 's' : ''} against jax-js with ${threads} worker${threads > 1 ? 's' : ''} (Chromium)`,
      target: '≥ 1.0× on every case',
      check:
        metric === 'cpu' || !worst
          ? { value: metric === 'cpu' ? '(in a browser: wall time only)' : 'not measured', pass: undefined }
          : { value: `${vs.filter((v) => v.x >= 1).length} of ${vs.length} cases; lowest ${worst.x.toFixed(2)}× (${worst.r.case} ${worst.r.op})`, pass: vs.every((v) => v.x >= 1) },
    });
  }
  const lib = find(rows, (r) => r.group === 'tooling' && r.op === 'in-process');
  out.push({
    bar: 'derive + emit generated/ < 2 s',
    subject: 'generateLibraryAsync() first call (npm run generate; CPU: both threads)',
    target: '< 2000 ms',
    check:
      lib && metric === 'wall'
        ? { value: `${lib.firstMs!.toFixed(0)} ms${lib.reps! > 1 ? ` (later calls ${lib.medianMs!.toFixed(0)} ms)` : ''}`, pass: lib.firstMs! < 2000 }
        : lib && lib.firstCpuMs !== undefined
          ? { value: `${lib.firstCpuMs.toFixed(0)} ms CPU${lib.cpuMedianMs !== undefined ? ` (later calls ${lib.cpuMedianMs.toFixed(0)} ms)` : ''}`, pass: lib.firstCpuMs < 2000 }
          : { value: 'not measured', pass: undefined },
  });
  // the bar is the command as a user types it: npx, npm's own start-up included
  const npx = find(rows, (r) => r.group === 'tooling' && r.case === 'derive cold start' && r.op.startsWith('npx derive') && r.status === 'ok');
  const npxFloor = find(rows, (r) => r.group === 'tooling' && r.case === 'derive cold start' && r.op.includes('--package=.') && r.status === 'ok');
  out.push({
    bar: '`npx derive` on one layer < 1 s',
    subject: npx?.op ?? 'npx derive examples/layers/conv2d.dg',
    target: '< 1000 ms',
    check: !npx
      ? { value: 'not measured', pass: undefined }
      : metric === 'wall'
        ? { value: `${npx.medianMs!.toFixed(0)} ms${npxFloor ? ` (npx running a bare Node the same way: ${npxFloor.medianMs!.toFixed(0)} ms)` : ''}`, pass: npx.medianMs! < 1000 }
        : { value: '(spawned: wall time only)', pass: undefined },
  });
  return out;
}

export function bars(rows: readonly RowOut[]): Bar[] {
  const wall = barsOn(rows, 'wall');
  const cpu = barsOn(rows, 'cpu');
  return wall.map((w, i) => ({
    bar: w.bar,
    subject: w.subject,
    target: w.target,
    value: w.check.value,
    pass: w.check.pass,
    valueCpu: cpu[i]!.check.value,
    passCpu: cpu[i]!.check.pass,
    ...(w.note ? { note: w.note } : {}),
  }));
}

// ---------- formatting ----------

export const fmtMs = (ms: number | undefined) => (ms === undefined ? '' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const fmtX = (v: number | undefined, star = false) => (v === undefined ? '' : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}×${star ? '*' : ''}`);
const implName = (r: Row) => `${r.impl}${r.variant ? ` (${r.variant})` : ''} ${r.dtype}`;

const HEAD = ['case', 'op', 'impl', 'median ms', 'min ms', 'CPU ms', 'core', 'GFLOP/s', 'on CPU', '× TF.js cpu', '× TF.js wasm', '× naive', '× jax-js', '× ORT', 'err'];
const RIGHT = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
const both = (w: number | undefined, c: number | undefined, star = false) => (w === undefined ? '' : c === undefined ? fmtX(w, star) : `${fmtX(w, star)} (${fmtX(c)})`);

function cells(r: RowOut): string[] {
  const err = r.relErr === undefined ? '' : r.relErr > 1e-3 ? `${r.relErr.toExponential(1)} !` : r.relErr.toExponential(0);
  if (r.status !== 'ok') return [r.case, r.op, implName(r), r.status === 'skipped' ? 'skipped' : 'n/a', '', '', '', '', '', '', '', '', '', '', r.note ?? ''];
  return [
    r.case,
    r.op,
    implName(r),
    fmtMs(r.medianMs),
    fmtMs(r.minMs),
    fmtMs(r.cpuMedianMs),
    r.cpuShare === undefined ? '' : r.cpuShare.toFixed(2),
    r.gflops === undefined ? '' : r.gflops.toFixed(2),
    r.cpuGflops === undefined ? '' : r.cpuGflops.toFixed(2),
    both(r.ratios?.cpu, r.cpuRatios?.cpu),
    both(r.ratios?.wasm, r.cpuRatios?.wasm, r.ratios?.wasmVariant),
    both(r.ratios?.naive, r.cpuRatios?.naive),
    both(r.ratios?.jax, r.cpuRatios?.jax),
    both(r.ratios?.ort, r.cpuRatios?.ort),
    err,
  ];
}

export function consoleTable(res: Results): string {
  const body = res.rows.map(cells);
  const width = HEAD.map((h, i) => Math.max(h.length, ...body.map((b) => Math.min(b[i]!.length, 60))));
  const line = (c: string[]) => c.map((v, i) => (RIGHT.has(i) ? v.padStart(width[i]!) : v.slice(0, 60).padEnd(width[i]!))).join('  ');
  const m = res.machine;
  const out = [
    `${m.cpu} ×${m.cores}, Node ${m.node}, ${m.date}, load ${m.loadavgStart.map((v) => v.toFixed(1)).join(' ')}${m.git ? `, commit ${m.git.commit}${m.git.dirty.length ? ' + uncommitted changes' : ''}` : ''} (${res.mode})`,
    line(HEAD),
    width.map((w) => '-'.repeat(w)).join('  '),
  ];
  let group = '';
  for (let i = 0; i < res.rows.length; i++) {
    const r = res.rows[i]!;
    if (r.group !== group) {
      group = r.group;
      const g = res.groups.find((q) => q.group === group);
      out.push(`[${group}]${g ? ` peak RSS ${g.maxRssMiB.toFixed(0)} MiB${res.mode === 'quick' ? ' (one process for all groups: cumulative)' : ''}, ${(g.wallMs / 1000).toFixed(1)} s${calib(g)}` : ''}`);
    }
    out.push(line(body[i]!));
    const next = res.rows[i + 1];
    const bd = breakdown(res.groups.find((q) => q.group === group) ?? { group, maxRssMiB: 0, wallMs: 0 });
    if (bd && (!next || next.group !== group)) out.push(`  generated step by layer (CPU ms): ${bd.map((b) => `${b.layer} ${b.cpuMs.toFixed(1)}`).join(', ')}`);
  }
  // --quick times one to three calls after a 30 ms warm-up: the step of the CNN still runs unoptimized
  // code there (its first calls take 5–8× its steady time), so a smoke run does not judge the bars
  const quick = res.mode === 'quick';
  out.push('', quick ? 'The bar — not judged on a --quick run (one to three calls, barely warmed up); `npm run bench` judges it:' : 'The bar:');
  const mark = (p: boolean | undefined) => (quick ? '  -  ' : p === undefined ? '  ?  ' : p ? 'PASS ' : 'FAIL ');
  out.push('  wall  CPU');
  for (const b of res.bars)
    out.push(`  ${mark(b.pass)} ${mark(b.passCpu)} ${b.subject}: ${b.value} | on CPU time: ${b.valueCpu} (target ${b.target})${b.note ? ` — ${b.note}` : ''}`);
  return out.join('\n');
}

const calib = (g: Results['groups'][number]) =>
  g.calibration
    ? `; core check: register-only loop ${g.calibration.cpuGflops.toFixed(1)} GFLOP/s on CPU time, ${g.calibration.wallGflops.toFixed(1)} wall (core share ${g.calibration.share.toFixed(2)})`
    : '';

const breakdown = (g: Results['groups'][number]) => g.info?.breakdown as { layer: string; cpuMs: number }[] | undefined;

const mdEscape = (s: string) => s.replace(/\|/g, '\\|');
const verdict = (p: boolean | undefined) => (p === undefined ? '?' : p ? 'PASS' : '**FAIL**');

export function markdown(res: Results, findings: string): string {
  const m = res.machine;
  const lines: string[] = [
    '# Benchmark results',
    '',
    '<!-- Written by `npm run bench` (bench/run.ts); the findings section is bench/FINDINGS.md. -->',
    '',
    `Machine: ${m.cpu}, ${m.cores} cores (shared with other jobs while measuring; load average ${m.loadavgStart.map((v) => v.toFixed(1)).join(' ')} at the start${m.loadavgEnd ? `, ${m.loadavgEnd.map((v) => v.toFixed(1)).join(' ')} at the end` : ''}), ` +
      `Node ${m.node} (V8 ${m.v8}), ${m.platform}, ${m.date}. Mode: ${res.mode}.` +
      (m.git ? ` Code: commit ${m.git.commit}${m.git.dirty.length ? ` plus uncommitted changes to ${m.git.dirty.join(', ')}` : ''}.` : ''),
    '',
    'Every number comes from one run of `npm run bench`: each group in a fresh child process, every implementation',
    'on the same data (values drawn once and rounded to float32, so the float64 and float32 inputs are identical).',
    'Times are per call: the median and the minimum of ≥ 10 timed samples after warm-up (a sample is several back-to-back',
    'calls when one call is shorter than 20 ms). `CPU ms` is the median process CPU time per call and `core` the CPU',
    'time over the wall time while timing: the share of a core the process got (the machine was shared with other',
    'jobs; 1.00 = a whole core). GFLOP/s counts a multiply and an add as two operations, over the nominal work (a',
    'convolution counts the padded taps too); `on CPU` is the same over CPU time. A ratio is the peer’s median over',
    'deltagrad’s median (above 1: deltagrad is faster), in brackets the same on CPU time; TF.js runs float32 only,',
    'so both deltagrad dtypes are compared with TF.js float32. `× TF.js wasm` marked * is against the WASM workaround',
    'row (the standard TF.js path has no kernel there). `err` is max |out − ref| / max |ref| against deltagrad float64.',
    '',
    'Run it: `npm run bench` (everything, each group in a child process; writes this file and bench/results.json),',
    '`npm run bench -- --quick` (a smoke run under a minute: fewer reps, the slowest peers left out, one process),',
    '`npm run bench -- --only=conv-s1,cnn` (some groups). Where a kernel’s time goes, line by line of the emitted code:',
    '`node --allow-natives-syntax --import tsx bench/profile.ts conv-s1 backward_dX [--dtype=f32] [--naive]`.',
    '',
    '## The bar (issue 4)',
    '',
    'Checked twice: on wall-clock medians (the issue’s measure) and on CPU time per call (the machine was shared;',
    'see “core” in the tables — the share of a core the benchmark process got while timing).',
    '',
    '| wall | CPU time | bar | case | measured (wall) | measured (CPU time) | target |',
    '|---|---|---|---|---|---|---|',
    ...res.bars.map(
      (b) =>
        `| ${verdict(b.pass)} | ${verdict(b.passCpu)} | ${mdEscape(b.bar)} | ${mdEscape(b.subject)} | ${mdEscape(b.value)}${b.note ? ` — ${mdEscape(b.note)}` : ''} | ${mdEscape(b.valueCpu)} | ${mdEscape(b.target)} |`,
    ),
    '',
    '## Results',
    '',
  ];
  for (const g of res.groups) {
    lines.push(`### ${g.group} — peak RSS ${g.maxRssMiB.toFixed(0)} MiB (${(g.wallMs / 1000).toFixed(0)} s)`, '');
    if (g.calibration) lines.push(`Before the group${calib(g)}.`, '');
    lines.push(`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (RIGHT.has(i) ? '---:' : '---')).join('|')}|`);
    for (const r of res.rows.filter((q) => q.group === g.group)) lines.push(`| ${cells(r).map(mdEscape).join(' | ')} |`);
    const notes = [...new Set(res.rows.filter((q) => q.group === g.group && q.note && q.status === 'ok').map((q) => `${implName(q)}: ${q.note}`))];
    if (notes.length) lines.push('', ...notes.map((n) => `- ${mdEscape(n)}`));
    // a group's own sentence on how it ran (browser-threads: the machine's load, the workers started)
    if (typeof g.info?.summary === 'string') lines.push('', mdEscape(g.info.summary));
    const bd = breakdown(g);
    if (bd) {
      const total = bd.reduce((a, b) => a + b.cpuMs, 0);
      lines.push('', `Where the generated step’s time goes (median CPU ms per layer call, ${total.toFixed(1)} ms in all):`, '', '| layer call | CPU ms | share |', '|---|---:|---:|');
      for (const b of bd) lines.push(`| ${b.layer} | ${b.cpuMs.toFixed(2)} | ${((100 * b.cpuMs) / total).toFixed(0)}% |`);
    }
    lines.push('');
  }
  lines.push(findings.trim(), '');
  return lines.join('\n');
}
