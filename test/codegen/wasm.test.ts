// The WebAssembly micro-kernels inside emitted kernels: what an emitted module does where WebAssembly
// SIMD is missing, a convolution whose padded copy grows the memory, and the WebAssembly GEMM against
// the JavaScript one. The assembler, the printer and the micro-kernels on their own are tested in
// test/target/wasm/.
import { describe, expect, it } from 'vitest';
import { compile, emit } from '../../src/codegen/compile.js';
import { loadModule } from '../helpers.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import ts from 'typescript';

describe('an emitted module where WebAssembly SIMD is missing', () => {
  const source = 'Y[i,j] = A[i,k]*X[k,j]';
  const run = (text: string, wasm: unknown) => {
    const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const exports: Record<string, (t: object, s: object) => void> = {};
    new Function('exports', 'WebAssembly', js)(exports, wasm);
    const t = { A: Float64Array.of(1, 2), X: Float64Array.of(3, 4), Y: new Float64Array(4) };
    exports.forward_Y!(t, { I: 2, J: 2, K: 1 });
    return [...t.Y];
  };
  it('imports fine and says what to do on the first matmul', () => {
    const text = emit(source);
    expect(() => run(text, undefined)).toThrow(/WebAssembly SIMD.*simd: false/);
    // a runtime whose WebAssembly rejects SIMD
    expect(() => run(text, { validate: () => false })).toThrow(/WebAssembly SIMD/);
  });
  it('with simd: false the module needs no WebAssembly at all', () => {
    const text = emit(source, { simd: false });
    expect(text).not.toContain('WebAssembly');
    expect(run(text, undefined)).toEqual([3, 4, 6, 8]);
    expect(loadModule(text)).toHaveProperty('forward_Y');
  });
});

describe('convolutions whose padded copy outgrows the WebAssembly memory', () => {
  it('grow it on demand: small, large (beyond the initial 22 pages), then small again, all equal to simd: false', () => {
    const source = 'dims N, C, H, W, F\nX: [N, C, H, W]\nK: [F, C, 3, 3]\nY: [N, F, H, W]\nY[n,f,u,v] = K[f,c,i,j] * X[n,c, u+i-1, v+j-1]';
    type Kernel = (t: Record<string, Float64Array>, s: Record<string, number>) => void;
    // one module each, called with sizes that change from call to call
    const [simd, js] = [emit(source), emit(source, { simd: false })].map((text) => loadModule(text) as Record<string, Kernel>);
    const rand = seededRandom(11);
    const fill = (n: number) => Float64Array.from({ length: n }, () => rand() * 2 - 1);
    // 8·8·40·40 float64 padded is 0.8 MB of copy, past the 22 pages (1.4 MB) the GEMM blocks fill
    for (const [N, C, H, W, F] of [
      [1, 2, 5, 6, 3],
      [8, 8, 38, 38, 4],
      [2, 1, 4, 3, 2],
    ] as const) {
      const sizes = { N, C, H, W, F };
      const inputs = { X: fill(N * C * H * W), K: fill(F * C * 9), dY: fill(N * F * H * W) };
      const [a, b] = [simd!, js!].map((m): Record<'Y' | 'dX' | 'dK', Float64Array> => {
        const t = { ...inputs, Y: new Float64Array(N * F * H * W), dX: new Float64Array(N * C * H * W), dK: new Float64Array(F * C * 9) };
        m.forward_Y!(t, sizes);
        m.backward_dX!(t, sizes);
        m.backward_dK!(t, sizes);
        return t;
      }) as [Record<'Y' | 'dX' | 'dK', Float64Array>, Record<'Y' | 'dX' | 'dK', Float64Array>];
      for (const name of ['Y', 'dX', 'dK'] as const) {
        expect(a[name].some((v) => v !== 0)).toBe(true);
        for (let i = 0; i < b[name].length; i++) expect(Math.abs(a[name][i]! - b[name][i]!)).toBeLessThan(1e-12 * (1 + Math.abs(b[name][i]!)));
      }
    }
  });
});

describe('the WebAssembly GEMM against the JavaScript one', () => {
  it('float64: the same sums in the same order, bit for bit (sizes crossing every block)', () => {
    const source = 'dims M, K, N\nA: [M, K]\nX: [K, N]\nb: [N]\nY[i,j] = relu(A[i,k]*X[k,j] + b[j])';
    const sizes = { M: 67, K: 517, N: 530 };
    const rand = seededRandom(7);
    const fill = (n: number) => Float64Array.from({ length: n }, () => rand() * 2 - 1);
    const inputs = { A: fill(67 * 517), X: fill(517 * 530), b: fill(530) };
    const wasm = compile(source, { sizes }).forward(inputs).Y!;
    const js = compile(source, { sizes, simd: false }).forward(inputs).Y!;
    expect(wasm.some((v) => v > 0)).toBe(true);
    expect(Buffer.from(wasm.buffer).equals(Buffer.from(js.buffer))).toBe(true);
  });
});
