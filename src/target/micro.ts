// micro: the module-level code that instantiates a micro-kernel module (the GEMM macro-kernel, the
// im2col panel packers and the row spreader, in WebAssembly SIMD: src/target/wasm/microModules.ts)
// on first use, as JavaScript or TypeScript. The module's bytes are embedded as hex; its memory holds the packed A block at 0, the
// packed B block at MC·KC and the C block at MC·KC + KC·NC (elements), and a convolution's padded
// copies and tables after them — `reserve` grows it (and makes `mem` again: views are taken after).
//
// Worked example: microModuleText('gemm64', false) declares `let $gemm64Instance;` and
// `function $gemm64() { … return ($gemm64Instance = w); }` with w = { run, pack4, spread, mem, reserve }.
// Without WebAssembly SIMD (browsers before 2021–2023), or on a page whose Content-Security-Policy
// refuses to compile WebAssembly, the first call says how to do without.
import type { MicroModule } from '../loop/types.js';
import { BLOCKING } from '../lower/gemmBlocks.js';
import { microModuleBytes } from './wasm/microModules.js';

const bytesCache = new Map<MicroModule, string>();

function hexOf(m: MicroModule): string {
  let hex = bytesCache.get(m);
  if (hex === undefined) {
    const dtype = m === 'gemm32' ? 'float32' : 'float64';
    const { MC, KC, NC } = BLOCKING[dtype];
    const es = dtype === 'float64' ? 8 : 4;
    const pages = Math.ceil(((MC * KC + KC * NC + MC * NC) * es) / 65536);
    const bytes = microModuleBytes(dtype, pages);
    hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    bytesCache.set(m, hex);
  }
  return hex;
}

export function microModuleText(m: MicroModule, typed: boolean): string {
  const dtype = m === 'gemm32' ? 'float32' : 'float64';
  const { MR, NR } = BLOCKING[dtype];
  const arr = dtype === 'float64' ? 'Float64Array' : 'Float32Array';
  const name = `$${m}`;
  const packs = [...new Set([MR, NR])].map((R) => `pack${R}`);
  const fns = `run: $GemmRun; ${packs.map((p) => `${p}: $GemmPack; `).join('')}spread: $GemmSpread;`;
  const type = `{ ${fns} mem: ${arr}; reserve(bytes: number): void }`;
  const t = (text: string) => (typed ? text : '');
  return [
    ...(typed
      ? [
          `type $GemmRun = (ap: number, bp: number, c: number, mc: number, nc: number, kc: number, ldc: number) => void;`,
          `type $GemmPack = (dst: number, src: number, ktab: number, side: number, kc: number, panels: number) => void;`,
          `type $GemmSpread = (dst: number, src: number, planes: number, rows: number, rowBytes: number, dstRow: number, dstPlane: number) => void;`,
          // a runtime global (Node 8+, every browser) that TypeScript's ES library does not declare;
          // declared in the module so that it type-checks with no DOM or Node types
          `declare const WebAssembly: {`,
          `  validate(bytes: Uint8Array): boolean;`,
          `  Module: new (bytes: Uint8Array) => object;`,
          `  Instance: new (module: object) => { exports: { ${fns} memory: { buffer: ArrayBuffer; grow(pages: number): number } } };`,
          `};`,
        ]
      : []),
    `let ${name}Instance${t(`: ${type} | undefined`)};`,
    ...(typed
      ? [
          `/** The packed-GEMM macro-kernel, ${dtype} ${MR}×${NR} register tiles in WebAssembly SIMD:`,
          ` * run(ap, bp, c, mc, nc, kc, ldc) computes a C block from packed panels in mem (offsets in bytes);`,
          ` * ${packs.join(', ')}(dst, src, ktab, side, kc, panels) gather im2col panels;`,
          ` * spread(dst, src, planes, rows, rowBytes, dstRow, dstPlane) lays rows out with gaps, for padded copies. */`,
        ]
      : []),
    `function ${name}()${t(`: ${type}`)} {`,
    `  if (${name}Instance) return ${name}Instance;`,
    `  const hex = '${hexOf(m)}';`,
    `  const bytes = new Uint8Array(hex.length / 2);`,
    `  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);`,
    `  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes))`,
    `    throw new Error('deltagrad: this module multiplies matrices with WebAssembly SIMD, which this runtime lacks (it needs Node 16.4+, Chrome 91+, Firefox 89+ or Safari 16.4+); emit it with { simd: false } for plain JavaScript loops');`,
    // a page whose Content-Security-Policy lacks 'wasm-unsafe-eval' refuses to compile any WebAssembly
    `  let module${t(': object')};`,
    `  try {`,
    `    module = new WebAssembly.Module(bytes);`,
    `  } catch (e) {`,
    `    throw new Error('deltagrad: the runtime refused to compile this module\\'s WebAssembly micro-kernel (' + String(e).split('\\n')[0] + '); a page whose Content-Security-Policy forbids it can allow it with script-src \\'wasm-unsafe-eval\\', or emit the layer with { target: \\'js\\', simd: false } for plain JavaScript loops');`,
    `  }`,
    `  const { run, ${packs.join(', ')}, spread, memory } = new WebAssembly.Instance(module).exports;`,
    `  const w${t(`: ${type}`)} = {`,
    `    run,`,
    ...packs.map((p) => `    ${p},`),
    `    spread,`,
    `    mem: new ${arr}(memory.buffer),`,
    `    reserve(bytes${t(': number')}) {`,
    `      const have = memory.buffer.byteLength;`,
    `      if (have >= bytes) return;`,
    // a 32-bit WebAssembly memory ends at 4 GiB (less where the runtime says so)
    `      try {`,
    `        memory.grow(Math.ceil((bytes - have) / 65536));`,
    `      } catch {`,
    `        throw new RangeError('deltagrad: this kernel needs ' + Math.ceil(bytes / 2 ** 20) + ' MiB of WebAssembly memory for its padded copies, more than the runtime gives (at most 4 GiB); emit or compile it with { simd: false } for tensors this large');`,
    `      }`,
    `      w.mem = new ${arr}(memory.buffer);`,
    `    },`,
    `  };`,
    `  return (${name}Instance = w);`,
    `}`,
  ].join('\n');
}
