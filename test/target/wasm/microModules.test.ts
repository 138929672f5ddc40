// The micro-kernel modules printed from loop IR: every function verifies, the module validates and
// exports what gemmPrelude's emitted code calls, and each function computes — bit for bit — what the
// hand-built WebAssembly it replaced computed (the references below are that arithmetic in plain
// JavaScript: lane-wise multiply then add, in k order, rounded to the dtype at each step).
import { describe, expect, it } from 'vitest';
import { BLOCKING } from '../../../src/lower/gemmBlocks.js';
import { seededRandom } from '../../../src/ir/gradcheck.js';
import { gatherPack } from '../../../src/lower/microkernels/gatherPack.js';
import { gemmMicroKernel, MICRO_TILE } from '../../../src/lower/microkernels/gemmMicroKernel.js';
import { spreadRows } from '../../../src/lower/microkernels/spreadRows.js';
import { verifyLoops } from '../../../src/loop/verifyLoops.js';
import { assembleWasm } from '../../../src/target/wasm/assembleWasm.js';
import { microFunctions, microModuleBytes } from '../../../src/target/wasm/microModules.js';
import { printWasm } from '../../../src/target/wasm/printWasm.js';
import { instantiate, WA } from './support.js';

type Run = (ap: number, bp: number, c: number, mc: number, nc: number, kc: number, ldc: number) => void;
type Pack = (dst: number, src: number, ktab: number, side: number, kc: number, panels: number) => void;
type Spread = (dst: number, src: number, planes: number, rows: number, rowBytes: number, dstRow: number, dstPlane: number) => void;

describe('microModuleBytes: the module gemmPrelude embeds', () => {
  for (const dtype of ['float64', 'float32'] as const)
    it(`${dtype}: verified IR, a valid module exporting run, one packer per panel width, spread and memory`, () => {
      for (const f of microFunctions(dtype)) expect(verifyLoops(f)).toEqual([]);
      const bytes = microModuleBytes(dtype, 22);
      expect(WA.validate(bytes)).toBe(true);
      const packs = dtype === 'float64' ? ['pack4'] : ['pack4', 'pack8'];
      expect(Object.keys(instantiate(bytes))).toEqual(['run', ...packs, 'spread', 'memory']);
      expect(new Uint8Array(instantiate<object>(bytes).memory.buffer).length).toBe(22 * 65536);
      // the tile gemm.ts blocks for is the one the kernel computes
      expect(MICRO_TILE[dtype]).toEqual({ MR: BLOCKING[dtype].MR, NR: BLOCKING[dtype].NR });
    });
});

describe('gemmMicroKernel: C tiles = packed A · packed B', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const { MR, NR } = MICRO_TILE[dtype];
    const es = dtype === 'float64' ? 8 : 4;
    const Arr = dtype === 'float64' ? Float64Array : Float32Array;
    const round = dtype === 'float64' ? (x: number) => x : Math.fround;
    const { run, memory } = instantiate<{ run: Run }>(assembleWasm({ run: printWasm(gemmMicroKernel({ dtype, MR, NR })) }, 32));
    const mem = new Arr(memory.buffer);
    for (const [mc, nc, kc] of [
      [MR, NR, 1],
      [1, 1, 1],
      [5, 3, 7],
      [MR * 3, NR * 2, 5],
      [13, 2 * NR + 3, 17],
      [MR * 16, NR * 7, 256],
      [63, 511, 255],
    ] as const)
      it(`${dtype} ${MR}×${NR} tiles: mc ${mc}, nc ${nc}, kc ${kc}`, () => {
        // the caller zero-pads the panels to whole tiles; the kernel computes (and stores) whole tiles
        const [mt, nt] = [Math.ceil(mc / MR) * MR, Math.ceil(nc / NR) * NR];
        const rand = seededRandom(mc * 1000 + nc * 10 + kc);
        const ldc = nt + 3; // a row stride wider than the block: the kernel must not assume ldc = nc
        const [ap, bp, cp] = [0, mt * kc, mt * kc + kc * nt];
        const A = (i: number, p: number) => (i < mc ? rand() * 2 - 1 : 0);
        const B = (p: number, j: number) => (j < nc ? rand() * 2 - 1 : 0);
        // panel layout: A row i at panel ⌊i/MR⌋ (MR·kc elements each), B column j at panel ⌊j/NR⌋
        for (let i = 0; i < mt; i++) for (let p = 0; p < kc; p++) mem[ap + Math.floor(i / MR) * MR * kc + p * MR + (i % MR)] = A(i, p);
        for (let j = 0; j < nt; j++) for (let p = 0; p < kc; p++) mem[bp + Math.floor(j / NR) * NR * kc + p * NR + (j % NR)] = B(p, j);
        mem.fill(12345, cp, cp + mt * ldc + 8);
        run(ap * es, bp * es, cp * es, mc, nc, kc, ldc * es);
        const want = new Arr(mt * ldc + 8).fill(12345);
        for (let i = 0; i < mt; i++)
          for (let j = 0; j < nt; j++) {
            let sum = 0;
            for (let p = 0; p < kc; p++)
              sum = round(sum + round(mem[ap + Math.floor(i / MR) * MR * kc + p * MR + (i % MR)]! * mem[bp + Math.floor(j / NR) * NR * kc + p * NR + (j % NR)]!));
            want[i * ldc + j] = sum;
          }
        // bit for bit, and nothing outside the tiles (the padding between rows, past the last) touched
        expect(Buffer.from(mem.slice(cp, cp + want.length).buffer).equals(Buffer.from(want.buffer))).toBe(true);
      });
  }
});

describe('gatherPack: im2col panels gathered through offset tables', () => {
  for (const [dtype, R] of [
    ['float64', 4],
    ['float32', 4],
    ['float32', 8],
  ] as const)
    it(`${dtype}, ${R} lanes: neighbouring and scattered lanes, negative k offsets, 0 panels, nothing past the last panel`, () => {
      const f = gatherPack({ dtype, R });
      expect(verifyLoops(f)).toEqual([]);
      const { pack, memory } = instantiate<{ pack: Pack }>(assembleWasm({ pack: printWasm(f) }, 2));
      const es = dtype === 'float64' ? 8 : 4;
      const mem = dtype === 'float64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
      const i32 = new Int32Array(memory.buffer);
      const rand = seededRandom(R);
      const [src, ktab, side, dst] = [1024, 4096, 5120, 8192]; // elements (i32 for the tables)
      for (let i = 0; i < 3000; i++) mem[src + i] = Math.round(rand() * 1000);
      const ks = [5, 0, 40, 13, -2, 100, 7, -9];
      ks.forEach((k, p) => (i32[ktab + p] = k));
      // neighbours (the v128 path); every other element; neighbours but one; scattered at random;
      // neighbours again (the path is chosen per panel)
      const lanes = [
        ...Array.from({ length: R }, (_, r) => 10 + r),
        ...Array.from({ length: R }, (_, r) => 300 + 2 * r),
        ...Array.from({ length: R }, (_, r) => 600 + r + (r === R - 1 ? 1 : 0)),
        ...Array.from({ length: R }, () => 20 + Math.floor(rand() * 2000)),
        ...Array.from({ length: R }, (_, r) => 1500 + r),
      ];
      lanes.forEach((o, i) => (i32[side + i] = o));
      const panels = lanes.length / R;
      mem.fill(-7, dst, dst + panels * R * ks.length + R);
      pack(dst * es, src * es, ktab * 4, side * 4, ks.length, panels);
      const want = Array.from({ length: panels * ks.length * R }, (_, e) => {
        const [q, p, r] = [Math.floor(e / (ks.length * R)), Math.floor(e / R) % ks.length, e % R];
        return mem[src + ks[p]! + lanes[q * R + r]!];
      });
      expect([...mem.subarray(dst, dst + want.length)]).toEqual(want);
      // the element after the last panel is untouched, and 0 panels (or 0 steps) write nothing
      expect(mem[dst + want.length]).toBe(-7);
      mem.fill(-7, dst, dst + R);
      pack(dst * es, src * es, ktab * 4, side * 4, ks.length, 0);
      pack(dst * es, src * es, ktab * 4, side * 4, 0, 2);
      expect(mem[dst]).toBe(-7);
    });
});

describe('spreadRows: dense rows laid out with gaps (a padded copy)', () => {
  it('copies planes × rows of rowBytes to their strided places, touching nothing between them; 0 planes or rows copy nothing', () => {
    const f = spreadRows();
    expect(verifyLoops(f)).toEqual([]);
    const { spread, memory } = instantiate<{ spread: Spread }>(assembleWasm({ spread: printWasm(f) }, 1));
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
    expect(mem.subarray(dst, dst + 100).every((x) => x === -1)).toBe(true);
  });
});
