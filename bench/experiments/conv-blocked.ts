// Experiment (not part of npm run bench): what a register-blocked direct convolution gains over the
// emitted conv kernels, on the benchmark's two shapes, in process CPU time.
//
//   npx tsx bench/experiments/conv-blocked.ts
//
// forward: X is copied once into a zero-padded scratch (no bounds tests anywhere after that), K is
// transposed once to [c,i,j,f], and each 4-filter × 4-output-column tile lives in 16 accumulators while
// the contraction runs over (c,i,j): 4 K loads + 4 X loads per 16 multiply-adds.
// dK: the same tile over 4 filters × 4 (c,i,j) columns, the contraction over (n,u,v), dY transposed
// once to [n,u,v,f] so the 4 filters' values are adjacent.
import { CONV_SHAPES, CONV_SOURCE } from '../groups/conv.js';
import { uniform } from '../lib/data.js';
import { kernel, kernels } from '../lib/deltagrad.js';
import { median } from '../lib/timing.js';

type Sizes = { N: number; C: number; H: number; W: number; F: number; R: number; S: number; P: number; T: number };
const outSize = (s: Sizes) => [Math.floor((s.H + 2 * s.P - s.R) / s.T) + 1, Math.floor((s.W + 2 * s.P - s.S) / s.T) + 1] as const;

function padX(X: Float64Array, s: Sizes): Float64Array {
  const { N, C, H, W, P } = s;
  const Wp = W + 2 * P;
  const HWp = (H + 2 * P) * Wp;
  const Xp = new Float64Array(N * C * HWp);
  for (let nc = 0; nc < N * C; nc++)
    for (let h = 0; h < H; h++) {
      const src = (nc * H + h) * W;
      const dst = nc * HWp + (h + P) * Wp + P;
      for (let w = 0; w < W; w++) Xp[dst + w] = X[src + w]!;
    }
  return Xp;
}

/** Y = conv(X, K) + b, 4 filters × 4 output columns per tile (F and Wo multiples of 4). */
export function forwardBlocked(t: { X: Float64Array; K: Float64Array; b: Float64Array; Y: Float64Array }, s: Sizes): void {
  const { X, K, b, Y } = t;
  const { N, C, H, W, F, R, S, P, T } = s;
  const [Ho, Wo] = outSize(s);
  const Wp = W + 2 * P;
  const HWp = (H + 2 * P) * Wp;
  const Xp = padX(X, s);
  const Kt = new Float64Array(F * C * R * S);
  for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) for (let i = 0; i < R; i++) for (let j = 0; j < S; j++) Kt[((c * R + i) * S + j) * F + f] = K[((f * C + c) * R + i) * S + j]!;
  const plane = Ho * Wo;
  for (let n = 0; n < N; n++)
    for (let f0 = 0; f0 < F; f0 += 4)
      for (let u = 0; u < Ho; u++)
        for (let v0 = 0; v0 < Wo; v0 += 4) {
          let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
          let a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
          let pk = f0;
          for (let c = 0; c < C; c++) {
            let px = (n * C + c) * HWp + u * T * Wp + v0 * T;
            for (let i = 0; i < R; i++, px += Wp)
              for (let j = 0; j < S; j++, pk += F) {
                const k0 = Kt[pk]!, k1 = Kt[pk + 1]!, k2 = Kt[pk + 2]!, k3 = Kt[pk + 3]!;
                const q = px + j;
                const x0 = Xp[q]!, x1 = Xp[q + T]!, x2 = Xp[q + 2 * T]!, x3 = Xp[q + 3 * T]!;
                a00 += k0 * x0; a01 += k0 * x1; a02 += k0 * x2; a03 += k0 * x3;
                a10 += k1 * x0; a11 += k1 * x1; a12 += k1 * x2; a13 += k1 * x3;
                a20 += k2 * x0; a21 += k2 * x1; a22 += k2 * x2; a23 += k2 * x3;
                a30 += k3 * x0; a31 += k3 * x1; a32 += k3 * x2; a33 += k3 * x3;
              }
          }
          const o = (n * F + f0) * plane + u * Wo + v0;
          const b0 = b[f0]!, b1 = b[f0 + 1]!, b2 = b[f0 + 2]!, b3 = b[f0 + 3]!;
          Y[o] = a00 + b0; Y[o + 1] = a01 + b0; Y[o + 2] = a02 + b0; Y[o + 3] = a03 + b0;
          let r = o + plane;
          Y[r] = a10 + b1; Y[r + 1] = a11 + b1; Y[r + 2] = a12 + b1; Y[r + 3] = a13 + b1;
          r += plane;
          Y[r] = a20 + b2; Y[r + 1] = a21 + b2; Y[r + 2] = a22 + b2; Y[r + 3] = a23 + b2;
          r += plane;
          Y[r] = a30 + b3; Y[r + 1] = a31 + b3; Y[r + 2] = a32 + b3; Y[r + 3] = a33 + b3;
        }
}

/** dK = Σ(n,u,v) dY·X, 4 filters × 4 (c,i,j) columns per tile (F a multiple of 4). */
export function dKBlocked(t: { X: Float64Array; dY: Float64Array; dK: Float64Array }, s: Sizes): void {
  const { X, dY, dK } = t;
  const { N, C, H, W, F, R, S, P, T } = s;
  const [Ho, Wo] = outSize(s);
  const Wp = W + 2 * P;
  const HWp = (H + 2 * P) * Wp;
  const plane = Ho * Wo;
  const Xp = padX(X, s);
  const dYt = new Float64Array(N * plane * F);
  for (let n = 0; n < N; n++)
    for (let f = 0; f < F; f++) {
      const src = (n * F + f) * plane;
      for (let q = 0; q < plane; q++) dYt[(n * plane + q) * F + f] = dY[src + q]!;
    }
  const CRS = C * R * S;
  const coff = new Int32Array(CRS + 3);
  for (let c = 0; c < C; c++) for (let i = 0; i < R; i++) for (let j = 0; j < S; j++) coff[(c * R + i) * S + j] = c * HWp + i * Wp + j;
  const acc = new Float64Array(16);
  for (let f0 = 0; f0 < F; f0 += 4)
    for (let q0 = 0; q0 < CRS; q0 += 4) {
      const o0 = coff[q0]!, o1 = coff[q0 + 1]!, o2 = coff[q0 + 2]!, o3 = coff[q0 + 3]!;
      let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
      let a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
      let pd = f0;
      for (let n = 0; n < N; n++)
        for (let u = 0; u < Ho; u++) {
          let px = n * C * HWp + u * T * Wp;
          for (let v = 0; v < Wo; v++, px += T, pd += F) {
            const d0 = dYt[pd]!, d1 = dYt[pd + 1]!, d2 = dYt[pd + 2]!, d3 = dYt[pd + 3]!;
            const x0 = Xp[px + o0]!, x1 = Xp[px + o1]!, x2 = Xp[px + o2]!, x3 = Xp[px + o3]!;
            a00 += d0 * x0; a01 += d0 * x1; a02 += d0 * x2; a03 += d0 * x3;
            a10 += d1 * x0; a11 += d1 * x1; a12 += d1 * x2; a13 += d1 * x3;
            a20 += d2 * x0; a21 += d2 * x1; a22 += d2 * x2; a23 += d2 * x3;
            a30 += d3 * x0; a31 += d3 * x1; a32 += d3 * x2; a33 += d3 * x3;
          }
        }
      acc.set([a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33]);
      for (let r = 0; r < 4; r++) for (let q = 0; q < 4 && q0 + q < CRS; q++) dK[(f0 + r) * CRS + q0 + q] = acc[r * 4 + q]!;
    }
}

const cpuMs = (fn: () => void, reps: number) => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / reps;
};

function compare(label: string, flops: number, emitted: () => void, proto: () => void, diff: () => number) {
  for (let i = 0; i < 10; i++) {
    emitted();
    proto();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 7; r++) {
    a.push(cpuMs(emitted, 2));
    b.push(cpuMs(proto, 2));
  }
  const g = (x: number[]) => `${median(x).toFixed(1)} ms CPU (${(flops / median(x) / 1e6).toFixed(2)} GFLOP/s)`;
  process.stdout.write(`${label}: emitted ${g(a)}, register-blocked ${g(b)} — ${(median(a) / median(b)).toFixed(2)}×; max rel. diff ${diff().toExponential(1)}\n`);
}

const rel = (a: Float64Array, b: Float64Array) => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(a[i]!));
  }
  return d / m;
};

const m = kernels(CONV_SOURCE, 'f64', true);
for (const which of ['s1', 's2'] as const) {
  const s: Sizes = { ...CONV_SHAPES[which] };
  const [Ho, Wo] = outSize(s);
  const flops = 2 * s.N * s.F * Ho * Wo * s.C * s.R * s.S;
  const X = uniform(21, [s.N, s.C, s.H, s.W]).f64;
  const K = uniform(22, [s.F, s.C, s.R, s.S]).f64;
  const b = uniform(23, [s.F]).f64;
  const dY = uniform(24, [s.N, s.F, Ho, Wo]).f64;
  const ta = { X, K, b, Y: new Float64Array(dY.length) };
  const tb = { X, K, b, Y: new Float64Array(dY.length) };
  const fwd = kernel(m, 'forward_Y');
  compare(`conv ${which} forward`, flops, () => fwd(ta, s), () => forwardBlocked(tb, s), () => rel(ta.Y, tb.Y));
  const da = { X, dY, dK: new Float64Array(K.length) };
  const db = { X, dY, dK: new Float64Array(K.length) };
  const dk = kernel(m, 'backward_dK');
  compare(`conv ${which} dK`, flops, () => dk(da, s), () => dKBlocked(db, s), () => rel(da.dK, db.dK));
}
