// The limits of src/ir/limits.ts and how check, derive and evaluate meet them: each reproducer took
// minutes, gigabytes or the stack before; now it is a located error in bounded time, names what is
// too large and the limit, and a limit can be raised.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/diff/derive.js';
import { check } from '../../src/ir/check.js';
import { DeltagradError } from '../../src/ir/errors.js';
import { evaluate, InputError } from '../../src/ir/evaluate.js';
import { DEFAULT_LIMITS, limitsWith } from '../../src/ir/limits.js';
import { errorOf } from '../helpers.js';

const doubling = (n: number, body = 'sin(x)*x') =>
  [`def f0(x) = ${body}`, ...Array.from({ length: n - 1 }, (_, k) => `def f${k + 1}(x) = f${k}(f${k}(x))`), `y = f${n - 1}(a)`, ''].join('\n');

/** CPU milliseconds of f (the machine may be busy: wall time says less). */
function cpuOf(f: () => unknown): number {
  const t = process.cpuUsage();
  try {
    f();
  } catch {
    // the error is what the caller looks at
  }
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1000;
}

describe('inlining def functions (limits.maxNodes, limits.maxDepth)', () => {
  it('six defs that double (141 characters, 2³³ nodes inlined) are refused at the call, at once', () => {
    const src = doubling(6);
    expect(src.length).toBe(141); // with its last newline
    const e = errorOf(() => check(src));
    expect(e.code).toBe('too-large');
    expect(e.span).toEqual({ line: 7, col: 5, length: 5 });
    expect(e.detail).toBe('f5(…) would inline to 12,884,901,886 nodes; a program may have 1,000,000');
    expect(cpuOf(() => check(src))).toBeLessThan(200);
  });
  it('24 defs (which took 4.4 GB and aborted the process) saturate the count instead of overflowing it', () => {
    expect(errorOf(() => check(doubling(24))).detail).toBe('f23(…) would inline to more than 9,007,199,254,740,991 nodes; a program may have 1,000,000');
  });
  it('an argument the body ignores is still built, once per call: 2⁴⁰ calls are refused too', () => {
    const e = errorOf(() => check(doubling(41, '1')));
    expect(e.detail).toMatch(/^f40\(…\) would inline to 1,099,511,627,777 nodes/);
    expect(cpuOf(() => check(doubling(41, '1')))).toBeLessThan(200);
  });
  it('the count is of the program: statements before take their share', () => {
    // f2(a) applies sin(x)*x 4 times: 46 nodes; z has 1 + 2·46
    const src = `${doubling(3)}z = f2(a) + f2(a)`;
    expect(check(src, { maxNodes: 139 }).statements).toHaveLength(2);
    const e = errorOf(() => check(src, { maxNodes: 138 }));
    expect(e.detail).toBe('the right side of z would inline to 93 nodes; a program may have 138 (the statements before it have 46)');
    expect(e.span).toMatchObject({ line: 5, col: 5 });
    expect(errorOf(() => check(src, { maxNodes: 90 })).detail).toBe('f2(…) would inline to 46 nodes; a program may have 90 (the statements before it have 46)');
  });
  it('a chain of defs nested 28 500 levels deep is refused at the call (it overflowed the stack)', () => {
    const chain = [`def f0(x) = ${'sin('.repeat(190)}x${')'.repeat(190)}`];
    for (let k = 1; k < 150; k++) chain.push(`def f${k}(x) = ${'sin('.repeat(190)}f${k - 1}(x)${')'.repeat(190)}`);
    const e = errorOf(() => check(`${chain.join('\n')}\ny = f149(a)`));
    expect(e.detail).toBe('f149(…) would inline to an expression nested 28,501 levels deep; the limit is 400');
    expect(e.span).toMatchObject({ line: 151, col: 5 });
  });
  it('so is a tree the parser built deeper than its nesting: 150 parentheses around 60 divisions', () => {
    const src = `y = ${Array.from({ length: 150 }).reduce<string>((e) => `(${e}${'/x'.repeat(60)})`, 'x')}`;
    const e = errorOf(() => check(src));
    expect(e.detail).toBe('the right side of y is nested 9,001 levels deep; the limit is 400');
    expect(e.span).toMatchObject({ line: 1, col: 1 });
  });
  it('just under the limit, derive stays within its own limit on the gradients, or says where it is crossed', () => {
    // g nested 12 deep: 12 286 nodes, whose gradient has about 0.5 million
    const under = `def g(x) = sin(x)*x\ny = ${'g('.repeat(12)}a${')'.repeat(12)}`;
    expect(cpuOf(() => derive(under))).toBeLessThan(5000);
    expect(derive(under).gradients.a!.index.length).toBeGreaterThan(1_000_000);
    const over = `def g(x) = sin(x)*x\ny = ${'g('.repeat(15)}a${')'.repeat(15)}`;
    const e = errorOf(() => derive(over));
    expect(e.detail).toMatch(/^da has a term of [\d,]+ nodes through y; the gradients may have 1,000,000$/);
    expect(e.span).toMatchObject({ line: 2, col: 1 });
    expect(cpuOf(() => derive(over))).toBeLessThan(3000);
    expect(() => derive(over, { limits: { maxNodes: 100 } })).toThrow(DeltagradError);
  });
});

describe('the length of a program (limits.maxSourceLength)', () => {
  it('is refused at the first character past the limit', () => {
    const src = `y = 1\nz = ${'x+'.repeat(500_000)}x`;
    const e = errorOf(() => check(src));
    expect(e.code).toBe('too-large');
    expect(e.detail).toBe('the program is longer than 1,000,000 characters, the limit');
    expect(e.span).toEqual({ line: 2, col: 1_000_000 - 6 + 1, length: 1 });
  });
  it('can be raised', () => {
    const src = `y = ${'x+'.repeat(500_000)}x`;
    expect(check(src, { maxSourceLength: 2_000_000, maxNodes: 2_000_000 }).statements).toHaveLength(1);
    // a million terms: past the limit on nodes too
    expect(errorOf(() => check(src, { maxSourceLength: 2_000_000 })).detail).toBe('the right side of y has 1,000,001 nodes; a program may have 1,000,000');
  });
  it('bad limits are refused', () => {
    expect(() => limitsWith({ maxNodes: -1 })).toThrow('limits.maxNodes must be a number ≥ 0');
    expect(() => limitsWith({ maxDepth: Number.NaN })).toThrow(RangeError);
    expect(limitsWith({ maxNodes: Infinity }).maxNodes).toBe(Infinity);
    expect(limitsWith()).toEqual(DEFAULT_LIMITS);
  });
});

describe('the interpreter (limits.maxElements, limits.maxOperations)', () => {
  it('refuses tensors past the limit before allocating them, naming the tensor and its shape', () => {
    const src = 'dims I, J\nY: [I, J]\nY[i,j] = x*i*j';
    expect(() => evaluate(src, { x: 1 }, { sizes: { I: 30000, J: 30000 } })).toThrow(
      "Y has shape [30000, 30000], 900,000,000 elements; the program's tensors have 900,000,001 together: more than the 10,000,000 elements the interpreter holds (limits.maxElements)",
    );
    expect(() => evaluate(src, { x: 1 }, { sizes: { I: 4000, J: 3000 } })).toThrow(InputError);
    expect(() => evaluate(src, { x: 1 }, { sizes: { I: 3, J: 3 }, limits: { maxElements: 9 } })).toThrow("Y has shape [3, 3], 9 elements; the program's tensors have 10 together: more than the 9 elements");
    expect(evaluate(src, { x: 1 }, { sizes: { I: 3, J: 3 }, limits: { maxElements: 10 } }).Y).toEqual(Float64Array.of(0, 0, 0, 0, 1, 2, 0, 2, 4));
  });
  it('counts the tensors together', () => {
    const src = 'dims N\nX: [N]\nY[i] = 2*X[i]\nZ[i] = Y[i] + 1';
    expect(() => evaluate(src, { X: new Float64Array(400) }, { limits: { maxElements: 1000 } })).toThrow("X has shape [400], 400 elements; the program's tensors have 1,200 together: more than the 1,000 elements");
  });
  it('refuses a reduction that would run for hours', () => {
    expect(() => evaluate('y = sum(r:1000000000000) x', { x: 1 })).toThrow(
      'evaluating y would take about 1,000,000,000,001 operations (1 element, 1,000,000,000,001 each): more than the 1,000,000,000 the interpreter runs (limits.maxOperations)',
    );
    expect(evaluate('y = sum(r:1000) x', { x: 1 }).y![0]).toBe(1000);
  });
});
