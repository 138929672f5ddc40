// expLanes: e^x of float32 lanes in WebAssembly against Math.exp rounded to float32 — within 2 ulp
// (counted in representable floats, so subnormal results are held to the same) on a sweep of every
// range, and the ends exact: +∞ above ln(FLT_MAX), 0 far below, NaN, ±∞, ±0.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/codegen/compile.js';
import { EXP_RANGE } from '../../../src/target/wasm/expLanes.js';

const SOURCE = 'dims I\nX: [I]\nY[i] = exp(X[i])';

/** how many float32 values lie between a and b (0: equal) */
function ulps(a: number, b: number): number {
  const bits = new Int32Array(new Float32Array([a, b]).buffer);
  const ordered = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
  return Math.abs(ordered(bits[0]!) - ordered(bits[1]!));
}

function expOf(xs: number[]): Float32Array {
  const X = Float32Array.from(xs);
  const k = compile(SOURCE, { sizes: { I: X.length }, dtype: 'float32', wasm: 'always' });
  return k.forward({ X }).Y as Float32Array;
}

describe('expLanes: e^x on float32 lanes', () => {
  it('is within 2 ulp of Math.exp on a sweep of [−104, 89] (every lane of every vector)', () => {
    const xs: number[] = [];
    for (let x = -104; x <= 89; x += 0.0137) xs.push(x);
    for (let x = -1; x <= 1; x += 0.000731) xs.push(x);
    while (xs.length % 4) xs.push(0.5);
    const y = expOf(xs);
    let worst = 0;
    xs.forEach((x, i) => {
      const want = Math.fround(Math.exp(Math.fround(x)));
      worst = Math.max(worst, ulps(y[i]!, want));
    });
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('the ends as float32 has them: +∞, 0, NaN, ±0 → 1', () => {
    const xs = [Infinity, -Infinity, NaN, 0, -0, 1000, -1000, EXP_RANGE.HI, 88.7228, -87.3, 1, -1];
    const y = expOf(xs);
    expect(y[0]).toBe(Infinity);
    expect(y[1]).toBe(0);
    expect(Number.isNaN(y[2])).toBe(true);
    expect(y[3]).toBe(1);
    expect(y[4]).toBe(1);
    expect(y[5]).toBe(Infinity);
    expect(y[6]).toBe(0);
    expect(y[7]).toBe(Infinity);
    expect(Number.isFinite(y[8]!)).toBe(true);
    expect(ulps(y[8]!, Math.fround(Math.exp(Math.fround(88.7228))))).toBeLessThanOrEqual(2);
    expect(ulps(y[9]!, Math.fround(Math.exp(Math.fround(-87.3))))).toBeLessThanOrEqual(2);
    expect(y[10]).toBe(Math.fround(Math.E));
    expect(ulps(y[11]!, Math.fround(Math.exp(-1)))).toBeLessThanOrEqual(1);
  });
});
