// The playground's pure modules, in Node: the analysis the page shows, the share link (untrusted input),
// error ranges, evaluation at a point, the numeric check, the examples menu and the highlighter.
// The page itself is tested in headless Chromium (page.test.ts).
import { StringStream } from '@codemirror/language';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derive, parse } from '../../src/index.js';
import { analyze, latexForms, stepsByGradient } from '../../playground/src/analyze.js';
import { formatNumber, pointFor, takesAPoint, valuesAt } from '../../playground/src/atPoint.js';
import { diagnosticOf, rangeOf } from '../../playground/src/diagnostics.js';
import { availableExamples, EXAMPLES } from '../../playground/src/examples.js';
import { has } from '../../playground/src/features.js';
import { tokenizer } from '../../playground/src/language.js';
import { checkKernel, numericCheck, probePositions, sizesFor, TOLERANCE } from '../../playground/src/numericCheck.js';
import { decodeState, EMPTY_EXTRAS, encodeState, type PageState } from '../../playground/src/shareLink.js';
import { compile, type Kernel } from '../../src/index.js';

const AFFINE = 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]';

describe('analyze', () => {
  it('derives a program: the gradients, the steps per gradient, both LaTeX forms', () => {
    const a = analyze(AFFINE, { wrt: ['X'] });
    expect(a.kind).toBe('derived');
    if (a.kind !== 'derived') return;
    expect(a.inputs.map((i) => `${i.name}${i.shape}`)).toEqual(['A[I, K]', 'X[K, J]', 'B[I, J]']);
    expect(a.wrt).toEqual(['X']);
    expect(a.result.gradients.X!.matrix).toBe('dX = Aᵀ·dY');
    const steps = stepsByGradient(a.result.steps!);
    expect(steps.map((s) => s.gradient)).toEqual(['dX']);
    expect(steps[0]!.lines.at(-1)).toMatch(/^matrix pattern \(.+\): dX = Aᵀ·dY$/);
    expect(latexForms(a.result.gradients.X!.latex)).toEqual({ index: '\\mathrm{d}X_{k,j} = \\sum_{i} A_{i,k} \\, \\mathrm{d}Y_{i,j}', matrix: '\\mathrm{d}X = A^{\\top} \\, \\mathrm{d}Y' });
  });

  it('drops --wrt names the program lacks; no input chosen, no statement, no input: a message, not an error', () => {
    const a = analyze(AFFINE, { wrt: ['X', 'Q'] });
    expect(a.kind === 'derived' && Object.keys(a.result.gradients)).toEqual(['X']);
    expect(analyze(AFFINE, { wrt: ['Q'] })).toMatchObject({ kind: 'nothing', message: expect.stringContaining('No input is chosen') });
    expect(analyze('# nothing yet\n')).toMatchObject({ kind: 'nothing', message: expect.stringContaining('assigns no tensor') });
    expect(analyze('f = 2')).toMatchObject({ kind: 'nothing', message: expect.stringContaining('reads no input') });
  });

  it('a bad program is one located error; a gradient name clash (from derive, not check) is one too', () => {
    const a = analyze('Y[i] = X[i');
    expect(a.kind === 'error' && [a.error.code, a.error.span]).toEqual(['syntax', { line: 1, col: 11, length: 1 }]);
    const clash = analyze('X: [3]\ndX: [3]\nY[i] = X[i] + dX[i]');
    expect(clash.kind === 'error' && clash.error.code).toBe('bad-name');
  });

  it('a matrix form that does not apply leaves the index form alone', () => {
    expect(latexForms('\\mathrm{d}x = z')).toEqual({ index: '\\mathrm{d}x = z', matrix: null });
  });
});

describe('diagnostics', () => {
  it('line:col in code points becomes an offset in UTF-16 code units', () => {
    // 𝑥 is one code point and two code units
    const src = 'a = 1\n𝑥 = b + ?';
    expect(rangeOf(src, { line: 2, col: 9, length: 1 })).toEqual({ from: 6 + 9, to: 6 + 10 });
    expect(src.slice(15, 16)).toBe('?');
  });

  it('splits lines as the lexer does (\\r\\n, lone \\r, U+2028) and clamps what runs past a line or the program', () => {
    expect(rangeOf('x\r\ny\rz\u2028w = ?', { line: 4, col: 5, length: 1 })).toEqual({ from: 11, to: 12 });
    expect(rangeOf('ab\ncd', { line: 1, col: 2, length: 50 })).toEqual({ from: 1, to: 2 });
    expect(rangeOf('ab', { line: 7, col: 9, length: 1 })).toEqual({ from: 2, to: 2 });
  });

  it('the diagnostic says line:col, the message and the hint, on the culprit', () => {
    const src = 'dims N=3\nY[i] = X[i] * 2\nZ[i] = Y[i] + frob(X[i])';
    const a = analyze(src);
    expect(a.kind).toBe('error');
    if (a.kind !== 'error') return;
    const d = diagnosticOf(a.error, src);
    expect(src.slice(d.from, d.to)).toBe('frob(X[i])');
    expect(d.message).toMatch(/^3:15 unknown function: frob\b/);
    expect(d.message).toContain('\nhint: ');
    expect(d.severity).toBe('error');
  });
});

describe('share link', () => {
  const full: PageState = { source: 'dims N=3 # a + b & c #x\nY[i] = X[i]*λ  ', wrt: ['X', 'λ'], sizes: { N: 4, H: 0 }, point: { x: -2.5, y: 1e-7 }, kernel: 'js', hessian: true };

  it('round-trips the whole state, and leaves defaults out', () => {
    expect(decodeState(`#${encodeState(full)}`)).toEqual({ state: full, problems: [] });
    expect(encodeState({ ...EMPTY_EXTRAS, source: 'f = (x+y)*z', point: { x: -2, y: 5, z: -4 } })).toBe('src=f+%3D+%28x%2By%29*z&at=x%3A-2%2Cy%3A5%2Cz%3A-4');
    expect(decodeState('')).toEqual({ state: {}, problems: [] });
  });

  it('reads any program text back exactly', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (source) => decodeState(encodeState({ ...EMPTY_EXTRAS, source })).state.source === source));
  });

  it('a bad field is reported and skipped; the good ones load', () => {
    const { state, problems } = decodeState('src=f%3Dx&sizes=N:-1,C:2,H:1.5,:3&at=x:abc,y:2&wrt=X,1bad&kernel=rust&hessian=yes&zap=1&src=again');
    expect(state).toEqual({ source: 'f=x', sizes: { C: 2 }, point: { y: 2 }, wrt: ['X'] });
    expect(problems).toEqual([
      'the link gives src more than once (the first is kept)',
      'the link has a field "zap" this page does not know (ignored)',
      'wrt: "1bad" is not a name (ignored)',
      'sizes: "N:-1" is not name:whole number (the size is ignored)',
      'sizes: "H:1.5" is not name:whole number (the size is ignored)',
      'sizes: ":3" is not name:whole number (the size is ignored)',
      'at: "x:abc" is not name:number (the value is ignored)',
      'kernel: "rust" is neither ts nor js (TypeScript is shown)',
      'hessian: "yes" is neither 1 nor 0 (ignored)',
    ]);
  });

  it('a name that is a key of Object.prototype is an own key, not the prototype', () => {
    const { state } = decodeState('sizes=__proto__:3,toString:2');
    expect(Object.getPrototypeOf(state.sizes)).toBe(Object.prototype);
    expect(Object.keys(state.sizes!)).toEqual(['__proto__', 'toString']);
  });

  it('never throws, whatever the fragment', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.array(fc.constantFrom('src=', 'sizes=', 'at=', '%', '%E0%A4', '&', ':', ',', '=', '#', 'N', '1', '-')).map((a) => a.join(''))), (text) => {
        const d = decodeState(text);
        return typeof d.state === 'object' && Array.isArray(d.problems);
      }),
    );
    expect(decodeState(`src=${'x'.repeat(2_000_001)}`).problems[0]).toMatch(/not read/);
    // a lone surrogate, as a hand-edited link may hold: read as U+FFFD, so the name is refused
    expect(decodeState('src=\ud800&sizes=\udc00:1').problems).toEqual(['sizes: "\ufffd:1" is not name:whole number (the size is ignored)']);
  });
});

describe('evaluate at a point', () => {
  const valuesOf = (source: string, point: Record<string, number>) => {
    const a = analyze(source);
    if (a.kind !== 'derived') throw new Error(a.kind);
    expect(takesAPoint(a.program)).toBe(true);
    return Object.fromEntries(valuesAt(a.program, a.result, pointFor(a.program, point), {}).values.map((v) => [v.name, v.values[0]!]));
  };

  it("seed 002: f = (x+y)z at (−2, 5, −4) is −12 with ∇f = (−4, −4, 3)", () => {
    const e = EXAMPLES.find((x) => x.id === 'chain-rule')!;
    expect(valuesOf(e.source, e.point!)).toEqual({ q: 3, f: -12, dz: 3, dq: -4, dx: -4, dy: -4 });
  });

  it("seed 002's sigmoid neuron: f = 0.73, and the gradients 0.2 / −0.39 … of the seed", () => {
    const e = EXAMPLES.find((x) => x.id === 'sigmoid-neuron')!;
    const v = valuesOf(e.source, e.point!);
    const round = (x: number) => Number(x.toFixed(2));
    expect([v.f, v.dw0, v.dx0, v.dw1, v.dx1, v.dw2].map((x) => round(x!))).toEqual([0.73, -0.2, 0.39, -0.39, -0.59, 0.2]);
  });

  it('a tensor output is seeded with ones; a missing value is 1; tensor inputs take no point', () => {
    const a = analyze('dims N=3\nY: [N]\nY[i] = x*i');
    if (a.kind !== 'derived') throw new Error(a.kind);
    const { values, seeded } = valuesAt(a.program, a.result, pointFor(a.program, {}), {});
    expect(seeded).toEqual(['Y']);
    expect(values.map((v) => [v.name, v.values])).toEqual([['Y', [0, 1, 2]], ['dx', [3]]]);
    const t = analyze(AFFINE);
    expect(t.kind === 'derived' && takesAPoint(t.program)).toBe(false);
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
  });
});

describe('numeric check', () => {
  it('passes on the affine layer and the strided convolution, every element compared at small sizes', () => {
    const r = numericCheck(AFFINE, { I: 3, J: 2, K: 4 });
    expect(r.pass).toBe(true);
    expect(r.rows.map((x) => [x.gradient, x.checked, x.of])).toEqual([['dA', 12, 12], ['dX', 8, 8], ['dB', 6, 6]]);
    expect(r.maxError).toBeLessThan(TOLERANCE);
    const conv = EXAMPLES.find((e) => e.id === 'conv2d-s2p1')!;
    const c = numericCheck(conv.source, sizesFor(parse(conv.source), conv.sizes!));
    expect(c.pass).toBe(true);
    expect(c.rows.map((x) => x.gradient)).toEqual(['dX', 'dK']);
  });

  it('fails a kernel whose gradient is off by 1e-4 in one element, or NaN', () => {
    const k = compile(AFFINE, { sizes: { I: 3, J: 2, K: 4 }, dtype: 'float64' });
    const off = (change: (g: Float64Array) => void): Kernel => ({
      ...k,
      forward: k.forward.bind(k),
      backward: (inputs, seeds) => {
        const out = k.backward(inputs, seeds);
        change(out.dX as Float64Array);
        return out;
      },
    });
    const r = checkKernel(off((g) => (g[5]! += 1e-4)));
    expect(r.pass).toBe(false);
    expect(r.rows.map((x) => x.pass)).toEqual([true, false, true]);
    expect(r.rows[1]!.maxAbsError).toBeCloseTo(1e-4, 8);
    const nan = checkKernel(off((g) => (g[0] = NaN)));
    expect(nan.pass).toBe(false);
    expect(nan.maxError).toBeNaN();
  });

  it('sizes: the user’s, else the program’s default, else 3; large inputs are probed at spread positions', () => {
    expect(sizesFor(parse('dims N, R=5, T=2\nX: [N, R, T]\nY[a,b,c] = X[a,b,c]'), { N: 7, T: 1 })).toEqual({ N: 7, R: 5, T: 1 });
    expect(probePositions(5)).toEqual([0, 1, 2, 3, 4]);
    const spread = probePositions(1000, 4);
    expect(spread).toEqual([125, 375, 625, 875]);
    expect(() => numericCheck(AFFINE, { I: 300, J: 300, K: 300 })).toThrow(/at most 200,000: choose smaller sizes/);
  });
});

describe('examples', () => {
  const shown = availableExamples(has).flatMap((g) => g.examples);

  it('the menu has every seed layer (all of examples/layers), the losses, the network and the chain rule', () => {
    const ids = shown.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['affine', 'conv2d', 'conv2d-s2p1', 'maxpool2d', 'avgpool2d', 'square-error', 'logistic01', 'logistic-pm1', 'softmax-xent', 'svm-hinge', 'two-layer-svm', 'chain-rule', 'sigmoid-neuron']) expect(ids).toContain(id);
    expect(EXAMPLES.filter((e) => !e.requires)).toHaveLength(24);
    // matrix notation and second order come with the library: shown exactly when it has them
    expect(shown.some((e) => e.requires === 'matrix-notation')).toBe(has('matrix-notation'));
  });

  it('every example shown derives, and its kernels pass the numeric check at its sizes', () => {
    for (const e of shown) {
      const a = analyze(e.source, { ...(e.wrt ? { wrt: e.wrt } : {}), hessian: Boolean(e.hessian && has('second-order')) });
      expect(a.kind, e.id).toBe('derived');
      if (a.kind !== 'derived') continue;
      const r = numericCheck(e.source, sizesFor(a.program, e.sizes ?? {}));
      expect(r.pass, `${e.id}: ${JSON.stringify(r.rows)}`).toBe(true);
    }
  });

  it('the Hessian probe agrees with derive', () => {
    const r = derive('f = x*x', { order: 2 } as Parameters<typeof derive>[1]) as { hessians?: unknown };
    expect(has('second-order')).toBe(r.hessians !== undefined);
  });
});

describe('highlighting', () => {
  const tokens = (lines: string[]) => {
    const state = tokenizer.startState!(2);
    const out: string[] = [];
    for (const line of lines) {
      const stream = new StringStream(line, 4, 2);
      while (!stream.eol()) {
        const style = tokenizer.token(stream, state);
        const text = stream.current();
        if (style) out.push(`${text}:${style}`);
        stream.start = stream.pos;
      }
    }
    return out;
  };

  it('tells the assigned tensor, indices, functions, reductions, numbers, keywords and comments apart', () => {
    expect(tokens(['dims N, T=2   # sizes', 'Y[n,f] = relu(X[n,d]*W[f,d] + b[f]) + sum(i) Z[i]*2.5e-3'])).toEqual([
      'dims:keyword', 'N:variable', ',:punctuation', 'T:variable', '=:operator', '2:number', '# sizes:comment',
      'Y:definition', '[:bracket', 'n:index', ',:punctuation', 'f:index', ']:bracket', '=:operator', 'relu:builtin', '(:bracket',
      'X:tensor', '[:bracket', 'n:index', ',:punctuation', 'd:index', ']:bracket', '*:operator', 'W:tensor', '[:bracket', 'f:index', ',:punctuation', 'd:index', ']:bracket',
      '+:operator', 'b:tensor', '[:bracket', 'f:index', ']:bracket', '):bracket', '+:operator', 'sum:reduction', '(:bracket', 'i:variable', '):bracket',
      'Z:tensor', '[:bracket', 'i:index', ']:bracket', '*:operator', '2.5e-3:number',
    ]);
  });

  it('a statement continued inside brackets on the next line is not a new statement; def names its function', () => {
    expect(tokens(['Y[i] = max(0,', '  X[i])', 'def swish(x) = x * sigmoid(x)'])).toEqual([
      'Y:definition', '[:bracket', 'i:index', ']:bracket', '=:operator', 'max:builtin', '(:bracket', '0:number', ',:punctuation',
      'X:tensor', '[:bracket', 'i:index', ']:bracket', '):bracket',
      'def:keyword', 'swish:definition', '(:bracket', 'x:variable', '):bracket', '=:operator', 'x:variable', '*:operator', 'sigmoid:builtin', '(:bracket', 'x:variable', '):bracket',
    ]);
  });
});
