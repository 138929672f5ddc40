// Names the emitted TypeScript cannot use as they are: a tensor or size named `t` or `s` (the
// kernels' parameters), a reserved word (`class`, `new`, `in`; `delete` and `do` as the gradients of
// `elete` and `o`), a strict-mode binding (`eval`, `arguments`), a global the kernels read (`Math`,
// `Infinity`, `Float64Array`, `Int32Array`, `undefined`, `NaN`), a helper the module declares (`relu`,
// `max`, … — the language keeps those for its functions, so only as sizes and indices), a kernel's
// own name (`forward`, `forward_Y`), and a name that is no identifier at all (`x²`).
//
// Each program must emit a module that type-checks strictly, in every variant (float64 and float32,
// naive, without SIMD), and whose kernels agree with the interpreter on the forward values and on
// every gradient — through `compile`, which keys the arrays by the user's names. Before
// safe locals (now the printer's Namer) every one of them failed: emit threw (prettier's SyntaxError), or the module
// threw `Identifier 't' has already been declared` when loaded, or Math.floor was not a function.
import { describe, expect, it } from 'vitest';
import { compile, emit, emitAsync } from '../../src/codegen/compile.js';
import { loadModule } from '../helpers.js';
import { check } from '../../src/ir/check.js';
import { compareWithInterpreter, describeSizes, randomData, typeErrors } from './support.js';

interface Case {
  readonly name: string;
  readonly source: string;
  readonly sizes: Record<string, number>;
}

const CASES: readonly Case[] = [
  { name: 't as a tensor (a scalar output)', source: 't = A[i,i]', sizes: { I: 5 } },
  { name: 's as a tensor', source: 'Y[i] = s[i] + X[i]', sizes: { I: 5 } },
  { name: 't and s as tensors of a pooling with an arg-max record', source: 'dims N, H\nt: [N, H]\ns[n,h] = max(r:2) t[n, 2*h+r]\nL = sum(n,h) s[n,h]*s[n,h]', sizes: { N: 3, H: 7 } },
  { name: 's and t as sizes', source: 'dims s, t\nX: [s, t]\nY[i,j] = X[i,j] * s + t', sizes: { s: 3, t: 4 } },
  { name: 'class as a scalar input', source: 'f = x*class', sizes: {} },
  { name: 'new as a scalar input', source: 'f = x*new + new', sizes: {} },
  { name: 'new, class, in in a matmul (the GEMM kernels)', source: 'Y[i,j] = new[i,k]*class[k,j] + in[i,j]', sizes: { I: 5, J: 6, K: 7 } },
  { name: 'in as an index', source: 'dims N\nclass: [N]\nL = sum(in) class[in]*class[in]', sizes: { N: 6 } },
  { name: 'class as a pooled output (its arg-max record is class_argmax)', source: 'dims N, H\nX: [N, H]\nclass[n,h] = max(r:2) X[n, 2*h+r]', sizes: { N: 3, H: 7 } },
  {
    name: 'in and new as sizes (stride and padding), class and Math as tensors of a convolution (im2col, residue classes)',
    source: 'dims N, C, H, W, F, in=2, new=1\nX: [N, C, H, W]\nclass: [F, C, 3, 3]\nMath: [F]\nY[n,f,u,v] = class[f,c,i,j] * X[n,c, u*in+i-new, v*in+j-new] + Math[f]',
    sizes: { N: 2, C: 3, H: 7, W: 6, F: 5 },
  },
  { name: 'Math as a tensor of a logsumexp (Math.log, Math.exp)', source: 'dims N, C\nMath: [N, C]\nL[n] = logsumexp(c) Math[n,c]', sizes: { N: 3, C: 5 } },
  { name: 'Math as a size in a shape with floor division', source: 'dims Math\nX: [Math]\nY: [Math/2]\nY[i] = X[2*i] + X[2*i+1]', sizes: { Math: 7 } },
  { name: 'Math as an index read by a quotient', source: 'dims N\nX: [N]\nY[Math] = X[Math/2] * X[Math]', sizes: { N: 7 } },
  {
    name: 'relu as a size, next to every helper function',
    source: 'dims relu\nX: [relu]\nY[i] = relu(X[i]) + sigmoid(X[i]) + max(X[i], 0) + elu(X[i], 1) + softplus(X[i]) + min(X[i], 0) + relu',
    sizes: { relu: 6 },
  },
  { name: 'relu as an index, next to every helper function', source: 'Y[relu] = relu(X[relu]) + sigmoid(X[relu]) + max(X[relu], 0) + elu(X[relu], 1) + softplus(X[relu]) + min(X[relu], 0)', sizes: { RELU: 6 } },
  { name: 'max and min as indices, next to the max reduction and the min function', source: 'dims N, C\nX: [N, C]\nY[min] = (max(max) X[min,max]) + min(X[min,0], 0)', sizes: { N: 3, C: 5 } },
  { name: 'Infinity as the input of a max reduction (-Infinity starts it)', source: 'dims N, C\nInfinity: [N, C]\nY[n] = max(c) Infinity[n,c]', sizes: { N: 3, C: 5 } },
  { name: 'Float64Array and Int32Array as matmul operands', source: 'Y[i,j] = Float64Array[i,k]*Int32Array[k,j]', sizes: { I: 5, J: 6, K: 7 } },
  { name: 'undefined and NaN as tensors', source: 'Y[i] = undefined[i] * NaN[i]', sizes: { I: 5 } },
  { name: 'eval and arguments (strict mode forbids them as bindings)', source: 'Y[i] = eval[i] * arguments[i]', sizes: { I: 5 } },
  { name: 'elete and o, whose gradients are delete and do', source: 'Y[i] = elete[i] * o[i]', sizes: { I: 5 } },
  { name: 'kernel names as tensors and sizes', source: 'dims backward\nforward: [backward]\nforward_Y[i] = forward[i]*2\nY[i] = forward_Y[i] * forward[i] + backward', sizes: { backward: 5 } },
  { name: 'x², which is no identifier, next to x_ and x__', source: 'Y[i] = x²[i] * x_[i] + x__[i]', sizes: { I: 5 } },
];

const VARIANTS = [
  { dtype: 'float64', optimize: true, simd: true, label: 'optimized' },
  { dtype: 'float64', optimize: false, simd: true, label: 'naive' },
  { dtype: 'float64', optimize: true, simd: false, label: 'no SIMD' },
  { dtype: 'float32', optimize: true, simd: true, label: 'optimized' },
] as const;

describe('tensors, sizes and indices whose names clash with the emitted code', () => {
  for (const c of CASES)
    describe(c.name, () => {
      const scale = new Map<string, number>();
      VARIANTS.forEach(({ dtype, optimize, simd, label }, vi) => {
        it(`${describeSizes(c.sizes)} · ${dtype} · ${label}: the kernels match the interpreter`, () => {
          const k = compile(c.source, { sizes: c.sizes, dtype, optimize, simd });
          const r = compareWithInterpreter(c.source, k, randomData(k, 3000 + vi), `names|${c.source}|${vi}`);
          for (const [n, v] of Object.entries(r.gradientScale)) scale.set(n, Math.max(scale.get(n) ?? 0, v));
        });
      });
      it('every gradient is nonzero (the comparison is not 0 = 0)', () => {
        const inputs = check(c.source).tensors.filter((t) => t.role === 'input');
        for (const t of inputs) expect(scale.get(t.name), `d${t.name}`).toBeGreaterThan(0);
      });
    });

  it('every module type-checks (strict, noUncheckedIndexedAccess)', () => {
    const files: Record<string, string> = {};
    CASES.forEach((c, ci) =>
      VARIANTS.forEach((v, vi) => (files[`case${ci}.${vi}.ts`] = `// ${c.name} · ${v.dtype} · ${v.label}\n${emit(c.source, { dtype: v.dtype, optimize: v.optimize, simd: v.simd })}`)),
    );
    files['canary.ts'] = 'const a = new Float64Array(2);\nexport const x: number = a[0];\n';
    const messages = typeErrors(files).map((m) => (m.startsWith('canary.ts') ? m : `// ${m}`));
    expect(messages.filter((m) => !m.startsWith('// ')).length, 'the canary error').toBe(1);
    expect(messages.filter((m) => m.startsWith('// '))).toEqual([]);
  });

  it("the kernels take the user's names as keys and declare safe locals", () => {
    const text = emit('t = A[i,i]');
    expect(text).toContain('export function forward_t(t: { readonly t: Float64Array; readonly A: Float64Array }, s: { readonly I: number }): void {');
    expect(text).toContain('const { t: t_, A } = t;');
    const m = loadModule(text) as { forward: (t: object, s: object) => void; program: { inputs: string[]; outputs: string[] } };
    expect(m.program.outputs).toEqual(['t']);
    const t = Float64Array.of(0);
    m.forward({ A: Float64Array.of(1, 2, 3, 4), t }, { I: 2 });
    expect(t[0]).toBe(5);
    // a reserved word is a fine property name; the doc comment shows the statement as written
    const cls = emit('f = x*class');
    expect(cls).toContain('readonly class: Float64Array');
    expect(cls).toContain('const { f, x, class: class_ } = t;');
    expect(cls).toContain(' * f = x*class');
    // a name that is no identifier is quoted, and its kernel gets a name that is one
    const sq = emit('Y[i] = x²[i] * 2');
    expect(sq).toContain("readonly 'x²': Float64Array");
    expect(sq).toContain("const { Y, 'x²': x_ } = t;");
    expect(sq).toContain('export function backward_dx_(');
  });

  it('emitAsync gives the same bytes as emit', async () => {
    for (const c of CASES.slice(0, 10)) expect(await emitAsync(c.source), c.name).toBe(emit(c.source));
  });

  it('shapes() keeps a tensor named __proto__ as a property, not the prototype', () => {
    const m = loadModule(emit('__proto__[i] = X[i] * 2')) as { shapes: (s: object) => Record<string, number[]> };
    const shapes = m.shapes({ I: 3 });
    expect(Object.getPrototypeOf(shapes)).toBe(Object.prototype);
    expect(Object.hasOwn(shapes, '__proto__')).toBe(true);
    expect(shapes['__proto__']).toEqual([3]);
  });
});
