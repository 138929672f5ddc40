// expLanes: e^x on the four lanes of an f32x4 without leaving WebAssembly (Cephes' expf). The
// host's Math.exp is a call per element, so a loop with an exp could not run as vectors; this can.
//
// Worked example, x = 1: n = nearest(x·log₂e) = 1; r = x − n·ln 2 = 0.3068528 (ln 2 in two parts,
// C1 + C2, so r is exact); e^r = 1 + r + r²·P(r) = 1.3591409; times 2^n, made as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋)
// from their exponent bits — two factors, so each stays a normal float for every n the clamp allows,
// and results in float32's subnormal range round once, at the last product — gives 2.7182817.
// x is first clamped to [LO, HI]: x ≥ HI (> ln of float32's largest value) gives +∞, x ≤ LO (below ln
// of half its smallest subnormal) gives 0, as float32 has them; NaN stays NaN (min and max keep it,
// and its n, truncated to 0, scales by 1). Accuracy: within 2 ulp of the correctly rounded e^x
// (test/target/wasm/expLanes.test.ts checks it on every range against Math.exp).
import type { Instr } from './assembleWasm.js';

/** the polynomial P of Cephes' expf, highest power first */
const P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
export const EXP_RANGE = { LO: -104, HI: 88.72284 } as const;
const LOG2E = 1.44269504088896341;
const C1 = 0.693359375;
const C2 = -2.12194440e-4;

/** What expLanes needs of the printer: emit, a fresh v128 local, and a local holding a constant's splat. */
export interface LaneEmitter {
  readonly emit: (...parts: (Instr | (() => void))[]) => void;
  readonly scratch: (hint: string) => string;
  /** the name of a local holding splat(value) (f32 lanes; i32 lanes with `int`) */
  readonly splat: (value: number, int?: boolean) => string;
}

/** e^x for x (an emitter of an f32x4); leaves the result on the stack. */
export function expLanes(x: () => void, o: LaneEmitter): void {
  const { emit, scratch } = o;
  const k = (value: number, int = false): Instr => ['local.get', o.splat(value, int)];
  const get = (n: string): Instr => ['local.get', n];
  const [xc, n, r, ni] = [scratch('xc'), scratch('n'), scratch('r'), scratch('ni')];
  emit(x, k(EXP_RANGE.LO), ['f32x4.max'], k(EXP_RANGE.HI), ['f32x4.min'], ['local.set', xc]);
  emit(get(xc), k(LOG2E), ['f32x4.mul'], ['f32x4.nearest'], ['local.set', n]);
  emit(get(xc), get(n), k(C1), ['f32x4.mul'], ['f32x4.sub'], get(n), k(C2), ['f32x4.mul'], ['f32x4.sub'], ['local.set', r]);
  // P(r) by Horner, then r²·P(r) + r + 1
  emit(k(P[0]!));
  for (const p of P.slice(1)) emit(get(r), ['f32x4.mul'], k(p), ['f32x4.add']);
  emit(get(r), get(r), ['f32x4.mul'], ['f32x4.mul'], get(r), ['f32x4.add'], k(1), ['f32x4.add']);
  // × 2^h · 2^(n−h), h = n >> 1: each factor's bits are (e + 127) << 23
  emit(get(n), ['i32x4.trunc_sat_f32x4_s'], ['local.set', ni]);
  emit(get(ni), ['i32.const', 1], ['i32x4.shr_s'], ['local.tee', n], k(127, true), ['i32x4.add'], ['i32.const', 23], ['i32x4.shl'], ['f32x4.mul']);
  emit(get(ni), get(n), ['i32x4.sub'], k(127, true), ['i32x4.add'], ['i32.const', 23], ['i32x4.shl'], ['f32x4.mul']);
}
