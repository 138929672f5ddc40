// The WebAssembly micro-kernel of the GEMM kernels: the assembler's encodings, the macro-kernel's
// arithmetic on its own (random packed panels, every tile shape edge the caller can hand it), and
// what an emitted module does where WebAssembly SIMD is missing.
import { describe, expect, it } from 'vitest';
import { assembleWasm, sleb, uleb, watOf, type WasmFunction } from '../../src/target/wasm/assembleWasm.js';
import { buildMicroKernel } from '../../src/codegen/buildMicroKernel.js';
import { buildGatherPack } from '../../src/codegen/buildGatherPack.js';
import { buildSpreadRows } from '../../src/codegen/buildSpreadRows.js';
import { BLOCKING } from '../../src/codegen/gemm.js';
import { compile, emit, loadModule } from '../../src/codegen/compile.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { morph } from '../../src/codegen/emitTs.js';

type Run = (ap: number, bp: number, c: number, mc: number, nc: number, kc: number, ldc: number) => void;
type Memory = { buffer: ArrayBuffer };
// the runtime global, which TypeScript's ES library (all this project compiles against) does not declare
const WebAssembly = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: object } } }).WebAssembly;

function instantiate(f: WasmFunction, pages: number): { run: Run; memory: Memory } {
  const bytes = assembleWasm(f, pages);
  expect(WebAssembly.validate(bytes)).toBe(true);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as { run: Run; memory: Memory };
}

describe('assembleWasm', () => {
  it('encodes LEB128 as the spec does (unsigned, signed, multi-byte)', () => {
    expect(uleb(0)).toEqual([0x00]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('numbers locals past 127 with two bytes, and the engine accepts the module', () => {
    const locals = Array.from({ length: 130 }, (_, i) => [`x${i}`, 'i32'] as const);
    const f: WasmFunction = {
      params: [['p', 'i32']],
      locals,
      body: [['i32.const', -1000000], ['local.get', 'x129'], ['i32.add'], ['local.set', 'x128'], ['local.get', 'p'], ['v128.const'], ['v128.store', 16]],
    };
    const { run, memory } = instantiate(f, 1) as unknown as { run: (p: number) => void; memory: Memory };
    const view = new Int32Array(memory.buffer);
    view.fill(7, 0, 12);
    run(16); // zeroes bytes 32–47: offset 16 past p
    expect([...view.subarray(0, 12)]).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0]);
  });

  it('is deterministic, and its text form names every instruction it encodes', () => {
    const f = buildMicroKernel({ dtype: 'float64', MR: 4, NR: 4 });
    expect(assembleWasm(f, 22)).toEqual(assembleWasm(buildMicroKernel({ dtype: 'float64', MR: 4, NR: 4 }), 22));
    const wat = watOf(f);
    for (const op of ['v128.load64_splat', 'f64x2.mul', 'f64x2.add', 'v128.store', 'br_if']) expect(wat).toContain(op);
    // 4 rows × 2 vectors of accumulators
    expect(wat.match(/\(local \$c\d_\d v128\)/g)).toHaveLength(8);
  });

  it('rejects a local it was not told about', () => {
    expect(() => assembleWasm({ params: [], locals: [], body: [['local.get', 'nope']] }, 1)).toThrow(/not declared/);
  });
});

describe('buildMicroKernel: C = packed A · packed B, every tile full', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const { MR, NR } = BLOCKING[dtype];
    const es = dtype === 'float64' ? 8 : 4;
    const Arr = dtype === 'float64' ? Float64Array : Float32Array;
    for (const [mc, nc, kc] of [
      [MR, NR, 1],
      [MR * 3, NR * 2, 5],
      [MR * 16, NR * 7, 256],
      [MR * 2, NR * 3, 17],
    ] as const)
      it(`${dtype} ${MR}×${NR} tiles: mc ${mc}, nc ${nc}, kc ${kc}`, () => {
        const { run, memory } = instantiate(buildMicroKernel({ dtype, MR, NR }), 32);
        const mem = new Arr(memory.buffer);
        const rand = seededRandom(mc * 1000 + nc * 10 + kc);
        const ldc = nc + NR; // a row stride wider than the block: the kernel must not assume ldc = nc
        const [ap, bp, cp] = [0, mc * kc, mc * kc + kc * nc];
        for (let q = 0; q < mc * kc + kc * nc; q++) mem[q] = rand() * 2 - 1;
        mem.fill(12345, cp, cp + mc * ldc);
        run(ap * es, bp * es, cp * es, mc, nc, kc, ldc * es);
        let worst = 0;
        for (let i = 0; i < mc; i++)
          for (let j = 0; j < nc; j++) {
            // panel layout: A row i at panel ⌊i/MR⌋ (MR·kc elements each), B column j at panel ⌊j/NR⌋
            let sum = 0;
            for (let p = 0; p < kc; p++)
              sum += mem[ap + Math.floor(i / MR) * MR * kc + p * MR + (i % MR)]! * mem[bp + Math.floor(j / NR) * NR * kc + p * NR + (j % NR)]!;
            worst = Math.max(worst, Math.abs(mem[cp + i * ldc + j]! - sum) / (1 + Math.abs(sum)));
          }
        expect(worst).toBeLessThan(dtype === 'float64' ? 1e-13 : 1e-5);
        // the padding between rows (columns nc … ldc) is untouched
        for (let i = 0; i < mc; i++) for (let j = nc; j < ldc; j++) expect(mem[cp + i * ldc + j]).toBe(12345);
      });
  }
});

describe('buildGatherPack: im2col panels gathered through offset tables', () => {
  type Pack = (dst: number, src: number, ktab: number, side: number, kc: number, panels: number) => void;
  for (const [dtype, R] of [
    ['float64', 4],
    ['float32', 4],
    ['float32', 8],
  ] as const)
    it(`${dtype}, ${R} lanes: neighbouring and scattered lanes, negative k offsets, nothing past the last panel`, () => {
      const bytes = assembleWasm({ pack: buildGatherPack({ dtype, R }) }, 2);
      expect(WebAssembly.validate(bytes)).toBe(true);
      const { pack, memory } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as { pack: Pack; memory: Memory };
      const es = dtype === 'float64' ? 8 : 4;
      const mem = dtype === 'float64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
      const i32 = new Int32Array(memory.buffer);
      const rand = seededRandom(R);
      const [src, ktab, side, dst] = [1024, 4096, 5120, 8192]; // elements (i32 for the tables)
      for (let i = 0; i < 2000; i++) mem[src + i] = Math.round(rand() * 1000);
      const ks = [5, 0, 40, 13, -2, 100, 7];
      ks.forEach((k, p) => (i32[ktab + p] = k));
      // panel 0: neighbours (the v128 path); panel 1: every other element; panel 2: neighbours but one
      const lanes = [
        ...Array.from({ length: R }, (_, r) => 10 + r),
        ...Array.from({ length: R }, (_, r) => 300 + 2 * r),
        ...Array.from({ length: R }, (_, r) => 600 + r + (r === R - 1 ? 1 : 0)),
      ];
      lanes.forEach((o, i) => (i32[side + i] = o));
      const panels = 3;
      mem.fill(-7, dst, dst + panels * R * ks.length + R);
      pack(dst * es, src * es, ktab * 4, side * 4, ks.length, panels);
      for (let q = 0; q < panels; q++)
        for (let p = 0; p < ks.length; p++)
          for (let r = 0; r < R; r++) expect(mem[dst + (q * ks.length + p) * R + r]).toBe(mem[src + ks[p]! + lanes[q * R + r]!]);
      // the element after the last panel is untouched, and 0 panels writes nothing
      expect(mem[dst + panels * R * ks.length]).toBe(-7);
      mem.fill(-7, dst, dst + R);
      pack(dst * es, src * es, ktab * 4, side * 4, ks.length, 0);
      expect(mem[dst]).toBe(-7);
    });
});

describe('buildSpreadRows: dense rows laid out with gaps (a padded copy)', () => {
  it('copies planes × rows of rowBytes to their strided places, touching nothing between them; 0 planes or rows copy nothing', () => {
    const bytes = assembleWasm({ spread: buildSpreadRows() }, 1);
    expect(WebAssembly.validate(bytes)).toBe(true);
    type Spread = (dst: number, src: number, planes: number, rows: number, rowBytes: number, dstRow: number, dstPlane: number) => void;
    const { spread, memory } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as { spread: Spread; memory: Memory };
    const mem = new Float64Array(memory.buffer);
    const [planes, rows, len, rowStride, planeStride, src, dst] = [3, 4, 5, 7, 30, 0, 1000];
    for (let i = 0; i < planes * rows * len; i++) mem[src + i] = i + 1;
    mem.fill(-1, dst, dst + planes * planeStride);
    spread(8 * (dst + 8), 8 * src, planes, rows, 8 * len, 8 * rowStride, 8 * planeStride);
    const want = new Float64Array(planes * planeStride).fill(-1);
    for (let p = 0; p < planes; p++) for (let r = 0; r < rows; r++) for (let x = 0; x < len; x++) want[8 + p * planeStride + r * rowStride + x] = p * rows * len + r * len + x + 1;
    expect([...mem.subarray(dst, dst + planes * planeStride)]).toEqual([...want]);
    mem.fill(-1, dst, dst + 100);
    spread(8 * dst, 8 * src, 0, 4, 40, 56, 240);
    spread(8 * dst, 8 * src, 3, 0, 40, 56, 240);
    expect(mem.subarray(dst, dst + 100).every((v) => v === -1)).toBe(true);
  });
});

describe('an emitted module where WebAssembly SIMD is missing', () => {
  const source = 'Y[i,j] = A[i,k]*X[k,j]';
  const run = (text: string, wasm: unknown) => {
    const { ts } = morph();
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
