// Program text is untrusted: what it can make the code generator do, and the kernels' answers on the
// programs outside testing found wrong (issue 13). Each case failed before its fix:
//   - a `#` comment holding \r, U+2028 or U+2029 ended the module header's `//` line and ran the rest;
//   - two max reductions over one input shared one arg-max table (dX = [0,0,56,0,0,4], not [10,0,56,40,0,54]);
//   - where(X > 0, 1/X, X) gave dX = NaN at X = 0 (the untaken branch multiplied by a 0 mask);
//   - a max over an all -∞ window was 0, logsumexp of an all -∞ row NaN, a mean over nothing NaN;
//   - an output sharing its array with an input gave wrong numbers (affine: an error of 24 at n = 300);
//   - a ctx shared by two layers gave one the other's gradients; emit({ dtype: 'int8' }) emitted float64.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, emit, type Dtype } from '../../src/codegen/compile.js';
import { loadModule } from '../helpers.js';
import { assertSafeCode, commentText, literal, stringLiteral } from '../../src/codegen/safeText.js';
import { derive } from '../../src/diff/derive.js';
import { evaluate } from '../../src/ir/evaluate.js';
import { DeltagradError } from '../../src/ir/errors.js';
import { affine, conv2d, maxpool2d, relu, sgd, sgdMomentum } from '../../generated/index.js';
import { interpret } from './support.js';

const SENTINEL = '__deltagradPwned';
const g = globalThis as Record<string, unknown>;

/** Same numbers, where ±∞ and NaN count as equal to themselves. */
function expectSame(actual: ArrayLike<number> | undefined, expected: ArrayLike<number>, tol: number, what: string) {
  expect(actual, what).toBeDefined();
  expect(actual!.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual![i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e) || !Number.isFinite(a)) expect(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: ${a} vs ${e}`).toBe(true);
    else expect(Math.abs(a - e), `${what}[${i}]: ${a} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  }
}

/** The emitted module without its header comment (the program's source). */
const body = (text: string) => text.split('\n').filter((l) => !l.startsWith('//')).join('\n');

describe('program text never becomes code', () => {
  it('the reproducer: a comment with a lone \\r runs nothing (it is a line break, so the next line is a syntax error)', () => {
    delete g[SENTINEL];
    expect(() => compile(`Y[i] = X[i] # \r globalThis.${SENTINEL} = 1 //`, { sizes: { I: 1 } })).toThrow(DeltagradError);
    expect(g[SENTINEL]).toBeUndefined();
  });

  it('every Unicode line terminator is a line break of the program, as it is of JavaScript', () => {
    for (const nl of ['\n', '\r\n', '\r', '\u2028', '\u2029']) {
      const r = derive(`X: [3]${nl}Y[i] = 2*X[i]`);
      expect(r.gradients.X!.index).toBe('dX[i] = 2*dY[i]');
      // the program passes on with plain \n line breaks only
      expect(r.program).not.toMatch(/[\r\u2028\u2029]/);
    }
  });

  const hostile = ['\r', '\u2028', '\u2029', '\u0085', '\u000b', '\u000c', '\u0000', '\u001b[2J', '\u202e', '\u2066', '\u200b', '\ufeff', '\ud800', '*/', '/*', '//', "'", '"', '`', '${', '\\', '</script>', ';', '}'];
  const comments = fc.array(fc.oneof(fc.constantFrom(...hostile), fc.string({ maxLength: 4 }), fc.constant(` globalThis.${SENTINEL} = 1; `)), { maxLength: 8 }).map((xs) => xs.join(''));

  it('a fuzzed comment either is a clean error or leaves the kernels byte for byte as without it, and runs nothing', () => {
    const plain = body(emit('Y[i] = X[i] * 2'));
    delete g[SENTINEL];
    fc.assert(
      fc.property(comments, (c) => {
        const src = `Y[i] = X[i] * 2 # ${c}`;
        let text: string;
        try {
          text = emit(src);
        } catch (e) {
          // a line break in the comment starts a line that is not a program
          expect(e, JSON.stringify(c)).toBeInstanceOf(DeltagradError);
          return;
        }
        assertSafeCode(text);
        expect(body(text), JSON.stringify(c)).toBe(plain);
        const m = loadModule(text) as { forward: (t: object, s: object) => void };
        const Y = new Float64Array(2);
        m.forward({ X: Float64Array.of(1, 2), Y }, { I: 2 });
        expect([...Y]).toEqual([2, 4]);
        expect(g[SENTINEL], JSON.stringify(c)).toBeUndefined();
      }),
      { seed: 13, numRuns: 150 },
    );
  });

  const letters = ['x', 'é', 'λ', 'ß', '中', '𝑥', 'ⸯ', '\u{10D4A}', 'Ω', 'ǅ', '_', 'x²', 'a1', 'toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'Infinity', 'NaN'];
  it('tensor names in every script (and Object.prototype keys) compile to kernels that match the interpreter', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...letters), { minLength: 3, maxLength: 3 }), ([a, b, c]) => {
        const src = `${a}[i] = ${b}[i] * ${c}[i] + ${b}[i]`;
        const text = emit(src);
        assertSafeCode(text);
        // outside comments and string literals the module is ASCII: every identifier is
        const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
        expect(code.match(/[^\x00-\x7f]/g), src).toBeNull();
        const k = compile(src, { sizes: { I: 3 } });
        const inputs = { [b!]: Float64Array.of(1, 2, 3), [c!]: Float64Array.of(-1, 0.5, 4) };
        const ref = interpret(src, { I: 3 }, inputs, { [`d${a}`]: [1, 2, 3] });
        expectSame(k.forward(inputs)[a!], ref.forward[a!]!, 1e-12, `${src}: ${a}`);
        const bwd = k.backward(inputs, { [`d${a}`]: Float64Array.of(1, 2, 3) });
        for (const x of [b!, c!]) expectSame(bwd[`d${x}`], ref.backward[`d${x}`]!, 1e-12, `${src}: d${x}`);
      }),
      { seed: 8, numRuns: 40 },
    );
  });

  it('the three ways user text enters code are built so that it cannot leave them', () => {
    expect(commentText('a\rb\u2028c\u2029d*/e')).toBe('a\\u{d}b\\u{2028}c\\u{2029}d*\\/e');
    expect(commentText('Σ x² λ')).toBe('Σ x² λ');
    expect(stringLiteral("it's \\ \u2028 \u0000 x²")).toBe("'it\\'s \\\\ \\u2028 \\u0000 x²'");
    expect(new Function(`return ${stringLiteral("a'\r\u2028\u{10D4A}")}`)()).toBe("a'\r\u2028\u{10D4A}");
    expect(new Function(`return ${literal({ __proto__x: 1, 'x²': ['a\u2029'] })}`)()).toEqual({ __proto__x: 1, 'x²': ['a\u2029'] });
    const proto = new Function(`return ${literal(Object.fromEntries([['__proto__', [1]]]))}`)() as object;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(() => assertSafeCode('// a\u2028b')).toThrow(/U\+2028/);
    expect(() => assertSafeCode('x = 1;\r\n')).toThrow(/U\+000D/);
    expect(() => assertSafeCode("const s = 'a\u202eb';")).toThrow(/U\+202E/);
  });
});

describe('kernels agree with the interpreter where they did not', () => {
  const variants: { dtype: Dtype; optimize: boolean; simd: boolean }[] = [
    { dtype: 'float64', optimize: true, simd: true },
    { dtype: 'float64', optimize: false, simd: true },
    { dtype: 'float64', optimize: true, simd: false },
    { dtype: 'float32', optimize: true, simd: true },
  ];
  const agree = (src: string, sizes: Record<string, number>, inputs: Record<string, number[]>, seeds: Record<string, number[]>, expected?: Record<string, number[]>) => {
    const ref = interpret(src, sizes, inputs, seeds);
    if (expected) for (const [n, v] of Object.entries(expected)) expectSame(ref.backward[n] ?? ref.forward[n], v, 1e-12, `interpreter ${n}`);
    for (const v of variants) {
      const k = compile(src, { sizes, ...v });
      const Arr = v.dtype === 'float32' ? Float32Array : Float64Array;
      const ins = Object.fromEntries(Object.entries(inputs).map(([n, x]) => [n, Arr.from(x)]));
      const fwd = k.forward(ins);
      const bwd = k.backward(ins, Object.fromEntries(Object.entries(seeds).map(([n, x]) => [n, Arr.from(x)])));
      const tol = v.dtype === 'float32' ? 1e-5 : 1e-12;
      for (const [n, x] of Object.entries(fwd)) expectSame(x, ref.forward[n]!, tol, `${JSON.stringify(v)} ${n}`);
      for (const [n, x] of Object.entries(bwd)) expectSame(x, ref.backward[n]!, tol, `${JSON.stringify(v)} ${n}`);
    }
  };

  it('two max reductions of different widths over one input each use their own arg-max', () => {
    const src = (k: string) => `X: [6]\nA: [4]\nB: [5]\nA[u] = max(i:3) X[u+i]\nB[u] = max(${k}:2) X[u+${k}]`;
    const inputs = { X: [0.3, -0.2, 0.9, 0.1, -0.5, 0.4] };
    const seeds = { dA: [1, 2, 3, 4], dB: [10, 20, 30, 40, 50] };
    agree(src('i'), {}, inputs, seeds, { dX: [10, 0, 56, 40, 0, 54] });
    agree(src('k'), {}, inputs, seeds, { dX: [10, 0, 56, 40, 0, 54] });
  });

  it('a max of the same width but another dilation is not matched to the first (its window index leaked: "i is not defined")', () => {
    const src = 'dims L=5\nX: [L]\nP0: [1]\nP0[u] = max(i:3) X[u + 2*i]\nP1: [3]\nP1[u] = max(i:3) X[u + i]';
    agree(src, {}, { X: [0, 0, 0, 0, 0] }, { dP0: [-3], dP1: [-3, -3, -3] });
    agree(src, {}, { X: [0.1, 0.9, -0.3, 0.9, 0.2] }, { dP0: [2], dP1: [1, -1, 3] });
  });

  it('three overlapping max pools of one input (strides and dilation, as in TVM)', () => {
    const src = 'X: [9]\nA[u] = max(i:3) X[2*u+i]\nB[u] = max(i:2) X[u+2*i]\nC[u] = max(i:3) X[u+i]\nL = sum(u) A[u] + sum(u) B[u]*B[u] + sum(u) C[u]';
    agree(src, {}, { X: [0.5, -1, 2, 2, 0.1, -0.3, 0.7, 0.7, -2] }, { dL: [1] });
  });

  it('where: the untaken branch of a singular derivative is 0, not NaN', () => {
    agree('X: [2]\nF[i] = where(X[i] > 0, 1/X[i], X[i])', {}, { X: [0, 2] }, { dF: [1, 1] }, { dX: [1, -0.25] });
    agree('X: [3]\nF[i] = where(X[i] > 0, log(X[i]), sqrt(-X[i]))', {}, { X: [0, 2, -4] }, { dF: [1, 1, 1] });
    agree('X: [3]\nF[i] = min(1/X[i], 5)', {}, { X: [0, 0.5, 0.1] }, { dF: [1, 1, 1] });
  });

  it('a read always outside its tensor contributes 0, even through sqrt at 0', () => {
    agree('dims N=3\nX: [N]\ny = sqrt(X[N])', {}, { X: [1, 2, 3] }, { dy: [1] }, { dX: [0, 0, 0] });
  });

  it('max, min, logsumexp and mean at their edges: -∞ windows, and no terms at all', () => {
    const X = [-Infinity, -Infinity, -Infinity, 1, 2, 3];
    agree('dims N=2, C=3\nX: [N, C]\nY[n] = max(c) X[n,c]', {}, { X }, { dY: [1, 1] }, { Y: [-Infinity, 3], dX: [1, 0, 0, 0, 0, 1] });
    agree('dims N=2, C=3\nX: [N, C]\nY[n] = min(c) (-X[n,c])', {}, { X }, { dY: [1, 1] }, { Y: [Infinity, -3] });
    const lse = interpret('dims N=2, C=3\nX: [N, C]\nY[n] = logsumexp(c) X[n,c]', {}, { X }, { dY: [0, 1] });
    expect(lse.forward.Y![0]).toBe(-Infinity);
    for (const v of variants) {
      const Arr = v.dtype === 'float32' ? Float32Array : Float64Array;
      expect(compile('dims N=2, C=3\nX: [N, C]\nY[n] = logsumexp(c) X[n,c]', v).forward({ X: Arr.from(X) }).Y![0]).toBe(-Infinity);
    }
    agree('dims N=2, J\nX: [N, J]\nY[n] = mean(j) X[n,j] + 1', { J: 0 }, { X: [] }, { dY: [1, 1] }, { Y: [1, 1] });
    agree('dims N=2, J\nX: [N, J]\nY[n] = max(j) X[n,j]', { J: 0 }, { X: [] }, { dY: [1, 1] }, { Y: [-Infinity, -Infinity] });
    expect(evaluate('dims J\nX: [J]\ny = min(j) X[j]', { X: new Float64Array(0) }, { sizes: { J: 0 } }).y![0]).toBe(Infinity);
  });
});

describe('memory shared between outputs and inputs', () => {
  it('an affine layer refuses to write Y over its input X (it used to give an error of 24)', () => {
    const n = 40;
    const X = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i));
    const W = Float64Array.from({ length: n * n }, (_, i) => Math.cos(i));
    expect(() => affine.forward({}, { X, W, b: new Float64Array(n) }, { N: n, D: n, F: n }, { Y: X })).toThrow(/output Y shares its memory with input X/);
    expect(() => affine.forward({}, { X, W, b: new Float64Array(n) }, { N: n, D: n, F: n }, { Y: new Float64Array(W.buffer, 0, n * n) })).toThrow(/with input W/);
    // a view over part of the input is sharing too
    const big = new Float64Array(2 * n * n);
    big.set(X);
    expect(() => affine.forward({}, { X: big.subarray(0, n * n), W, b: new Float64Array(n) }, { N: n, D: n, F: n }, { Y: big.subarray(n, n + n * n) })).toThrow(/shares its memory/);
  });

  it('elementwise layers update in place where program.inPlace says so, and only their very array', () => {
    expect(sgd.program.inPlace).toEqual({ Wnew: ['W', 'G'] });
    expect(affine.program.inPlace).toEqual({});
    const W = Float64Array.of(1, 2, 3);
    expect([...sgd.forward({}, { W, G: Float64Array.of(1, 1, 1), lr: 0.5 }, { D: 3 }, { Wnew: W }).Wnew]).toEqual([0.5, 1.5, 2.5]);
    expect([...W]).toEqual([0.5, 1.5, 2.5]);
    const buf = new Float64Array(4);
    expect(() => sgd.forward({}, { W: buf.subarray(0, 3), G: Float64Array.of(1, 1, 1), lr: 0.5 }, { D: 3 }, { Wnew: buf.subarray(1, 4) })).toThrow(/very array of W or G/);
    const { Y } = relu.forward({}, { X: Float64Array.of(-1, 2) }, { N: 1, D: 2 });
    expect(() => relu.forward({}, { X: Y }, { N: 1, D: 2 }, { Y })).not.toThrow();
  });

  it('a backward that would read an input its forward overwrote is refused', () => {
    const W = Float64Array.of(1, 2, 3);
    const V = Float64Array.of(0.5, 0.5, 0.5);
    const ctx = {};
    sgdMomentum.forward(ctx, { W, V, G: Float64Array.of(1, 1, 1), lr: 0.1, mu: 0.9 }, { D: 3 }, { Vnew: V, Wnew: W });
    expect(() => sgdMomentum.backward(ctx, { dWnew: Float64Array.of(1, 1, 1) }, { retain: true })).toThrow(/dmu reads V, which forward overwrote in place/);
    // dW and dG read no overwritten input
    const { dW, dG } = sgdMomentum.backward(ctx, { dWnew: Float64Array.of(1, 1, 1) }, { wrt: ['W', 'G'] });
    expect([...dW]).toEqual([1, 1, 1]);
    expect([...dG].map((x) => +x.toFixed(12))).toEqual([-0.1, -0.1, -0.1]);
  });
});

describe('operators and options used wrongly are clear errors', () => {
  const convIn = () => ({ X: Float64Array.from({ length: 2 * 3 * 5 * 5 }, (_, i) => Math.sin(i)), K: Float64Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.cos(i)), b: new Float64Array(4) });
  const sizes = { N: 2, C: 3, H: 5, W: 5, F: 4, P: 1 };
  const dY = Float64Array.from({ length: 2 * 4 * 5 * 5 }, (_, i) => Math.sin(3 * i));

  it('two conv layers sharing one ctx: the second backward is an error', () => {
    const ctx = {};
    conv2d.forward(ctx, convIn(), sizes);
    conv2d.forward(ctx, convIn(), sizes);
    conv2d.backward(ctx, { dY });
    expect(() => conv2d.backward(ctx, { dY })).toThrow(/already been used by a backward\. Do two layers share this ctx\?/);
    // a new forward makes it usable again
    conv2d.forward(ctx, convIn(), sizes);
    expect(() => conv2d.backward(ctx, { dY })).not.toThrow();
  });

  it("another operator's ctx, or none, is an error naming both operators", () => {
    const ctx = {};
    conv2d.forward(ctx, convIn(), sizes);
    expect(() => maxpool2d.backward(ctx, { dY })).toThrow('maxpool2d.backward: this ctx holds a forward of conv2d, not of maxpool2d');
    expect(() => relu.forward(ctx, { X: new Float64Array(4) }, { N: 2, D: 2 })).toThrow('relu.forward: this ctx holds a forward of conv2d');
    expect(() => maxpool2d.backward({}, { dY })).toThrow('maxpool2d.backward: this ctx holds no forward of maxpool2d');
    expect(() => conv2d.forward(null as never, convIn(), sizes)).toThrow(/the first argument is the layer's context/);
  });

  it('emit, emitAsync and compile check their options', () => {
    expect(() => emit('Y[i] = X[i]', { dtype: 'int8' } as never)).toThrow("emit: dtype must be 'float32' or 'float64', got 'int8'");
    expect(() => emit('Y[i] = X[i]', { dtyp: 'float32' } as never)).toThrow('emit: unknown option dtyp (options: dtype, optimize, simd, wasm, sizes, constants, target, wrt)');
    expect(() => compile('Y[i] = X[i]', { sizes: { I: 2 }, simd: 'no' } as never)).toThrow('compile: simd must be true or false');
    expect(() => compile('Y[i] = X[i]', { sizes: { I: 2 }, wasm: true } as never)).toThrow("compile: wasm must be 'auto', 'always' or 'never', got true");
    expect(() => compile('Y[i] = X[i]', { sizes: { I: -1 } })).toThrow('compile: size I must be a whole number ≥ 0, got -1');
  });

  it('offsets into the WebAssembly memory are computed without 32-bit wrap-around (2 GiB and beyond)', () => {
    const text = emit('dims N, C, H, W, F, R=3, S=3, P=1, T=1\nX: [N, C, H, W]\nK: [F, C, R, S]\nY[n,f,u,v] = K[f,c,i,j] * X[n,c, u*T+i-P, v*T+j-P]');
    expect(text).toContain('$W.reserve(');
    // the byte offsets of the tables and copies are rounded up with Math.ceil, in floating point
    expect(text).toMatch(/at = Math\.ceil\(/);
    expect(text).not.toMatch(/(& -\d|\| 0|>> \d|<< \d)/);
    expect(text).toContain('more than the runtime gives (at most 4 GiB)');
  });
});

describe('compile(…).forward and backward with preallocated outputs', () => {
  const src = 'dims N, D, F\nX: [N, D]\nW: [F, D]\nb: [F]\nY[n,f] = X[n,d]*W[f,d] + b[f]';
  const sizes = { N: 5, D: 7, F: 3 };
  const fill = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  const inputs = { X: fill(35, Math.sin), W: fill(21, Math.cos), b: fill(3, (i) => i) };
  it('writes into the arrays given, with the same numbers as fresh ones, call after call', () => {
    const k = compile(src, { sizes });
    const fresh = k.forward(inputs);
    const Y = new Float64Array(15).fill(NaN);
    const got = k.forward(inputs, { Y });
    expect(got.Y).toBe(Y);
    expect([...Y]).toEqual([...fresh.Y!]);
    const dY = fill(15, (i) => i / 7);
    const ref = k.backward(inputs, { dY });
    const dX = new Float64Array(35).fill(NaN);
    const dW = new Float64Array(21);
    const out = k.backward(inputs, { dY }, { dX, dW, Y });
    expect(out.dX).toBe(dX);
    expect([...dX]).toEqual([...ref.dX!]);
    expect([...dW]).toEqual([...ref.dW!]);
  });
  it('refuses outputs of the wrong kind or size, and memory shared with what the kernels read', () => {
    const k = compile(src, { sizes });
    expect(() => k.forward(inputs, { Z: new Float64Array(15) } as never)).toThrow('Z is not an output here (out may hold Y)');
    expect(() => k.forward(inputs, { Y: new Float64Array(14) })).toThrow('output Y has 14 elements but its shape [5, 3] needs 15');
    expect(() => k.forward(inputs, { Y: new Float32Array(15) as never })).toThrow(/must be a Float64Array/);
    const shared = new Float64Array(64);
    expect(() => k.forward({ ...inputs, X: shared.subarray(0, 35) }, { Y: shared.subarray(30, 45) })).toThrow(/output Y shares its memory with input X/);
    expect(() => k.backward(inputs, { dY: fill(15, Math.sin) }, { dX: inputs.X })).toThrow(/output dX shares its memory with input X/);
    const dY = new Float64Array(15);
    expect(() => k.backward(inputs, { dY }, { Y: dY })).toThrow(/seed dY shares memory with Y/);
  });
});
