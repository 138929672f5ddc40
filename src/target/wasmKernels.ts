// wasmKernels: the JavaScript (or TypeScript) around a program's WebAssembly kernels — the module
// that instantiates them on first use (its bytes as hex, the host's Math functions as imports), and
// each kernel's function, which copies the tensors it reads into the module's memory, calls the
// WebAssembly function and copies what it wrote back out.
//
// Worked example, forward_Y of `Y[i] = relu(X[i])` (float32, JavaScript):
//   export function forward_Y(t, s) {
//     const { Y, X } = t;
//     const { I } = s;
//     const $w = $kernels();
//     const $at = $w.place([Y.byteLength, X.byteLength]);
//     new Float32Array($w.memory.buffer, $at[1], X.length).set(X);
//     $w.fn.forward_Y($at[0], $at[1], I);
//     Y.set(new Float32Array($w.memory.buffer, $at[0], Y.length));
//   }
// `place` lays the regions out 16-byte aligned with SLACK bytes around each (printWasm.ts folds
// small constant offsets into its accesses) and grows the memory when they do not fit.
// For worker threads (`shared`) the module imports the shared memory every tensor already lives in
// (the `$memory` the worker hands the module body, threaded.ts): the function passes each tensor's
// byteOffset and copies nothing, so workers running their shares of one kernel write disjoint
// elements of the same arrays —
//     $w.fn.forward_Y(Y.byteOffset, X.byteOffset, I, $part, $parts);
import { walkExpr, walkStmts, stmtExprs } from '../loop/mapLoop.js';
import type { Buf, Kernel } from '../loop/types.js';
import type { Namer } from './names.js';
import { kernelModule } from './wasm/printKernelWasm.js';
import { SLACK } from './wasm/printWasm.js';

const ARRAY: Record<string, string> = { f64: 'Float64Array', f32: 'Float32Array', i32: 'Int32Array', u8: 'Uint8Array' };

/** the module body's parameter that holds the threads' shared WebAssembly.Memory */
export const SHARED_MEMORY_NAME = '$memory';

/** The module-level instance of the kernels' WebAssembly module: `$kernels()`. */
export function wasmKernelsText(kernels: readonly Kernel[], typed: boolean, shared = false): string {
  const { bytes, imports } = kernelModule(kernels, shared);
  if (shared) return sharedKernelsText(bytes, imports);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  const t = (text: string) => (typed ? text : '');
  const fns = 'Record<string, (...args: number[]) => void>';
  const mem = '{ buffer: ArrayBuffer; grow(pages: number): number }';
  const type = `{ fn: ${fns}; memory: ${mem}; place(bytes: number[]): number[] }`;
  const host = imports.length ? `{ ${imports.map((n) => `${n.slice(5)}: ${n}`).join(', ')} }` : '{}';
  return [
    `let $kernelsInstance${t(`: ${type} | undefined`)};`,
    ...(typed ? [`/** The program's WebAssembly kernels (SIMD), over one memory: fn.<kernel>(byte address of each tensor…, sizes…). */`] : []),
    `function $kernels()${t(`: ${type}`)} {`,
    `  if ($kernelsInstance) return $kernelsInstance;`,
    // the runtime's global, which TypeScript's ES library does not declare
    `  const wa = (globalThis${t(' as unknown as { WebAssembly?: { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => { exports: Record<string, unknown> } } }')}).WebAssembly;`,
    `  const hex = '${hex}';`,
    `  const bytes = new Uint8Array(hex.length / 2);`,
    `  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);`,
    `  if (typeof wa !== 'object' || !wa.validate(bytes))`,
    `    throw new Error('deltagrad: this module runs kernels in WebAssembly SIMD, which this runtime lacks (it needs Node 16.4+, Chrome 91+, Firefox 89+ or Safari 16.4+); emit it with { simd: false } for plain JavaScript loops');`,
    `  let module${t(': object')};`,
    `  try {`,
    `    module = new wa.Module(bytes);`,
    `  } catch (e) {`,
    `    throw new Error('deltagrad: the runtime refused to compile this module\\'s WebAssembly kernels (' + String(e).split('\\n')[0] + '); a page whose Content-Security-Policy forbids it can allow it with script-src \\'wasm-unsafe-eval\\', or emit the layer with { target: \\'js\\', simd: false } for plain JavaScript loops');`,
    `  }`,
    `  const exports = new wa.Instance(module, { Math: ${host} }).exports;`,
    `  const memory = exports.memory${t(` as ${mem}`)};`,
    `  const w${t(`: ${type}`)} = {`,
    `    fn: exports${t(` as ${fns}`)},`,
    `    memory,`,
    `    place(sizes${t(': number[]')}) {`,
    `      const at${t(': number[]')} = [];`,
    `      let end = ${SLACK};`,
    `      for (const n of sizes) {`,
    `        at.push(end);`,
    // in floating point: a 32-bit & would wrap beyond 2 GiB
    `        end += Math.ceil((n + ${SLACK}) / 16) * 16;`,
    `      }`,
    `      const have = memory.buffer.byteLength;`,
    `      if (end > have) {`,
    `        try {`,
    `          memory.grow(Math.ceil((end - have) / 65536));`,
    `        } catch {`,
    `          throw new RangeError('deltagrad: this kernel needs ' + Math.ceil(end / 2 ** 20) + ' MiB of WebAssembly memory for its tensors, more than the runtime gives (at most 4 GiB); emit or compile it with { simd: false } for tensors this large');`,
    `        }`,
    `      }`,
    `      return at;`,
    `    },`,
    `  };`,
    `  return ($kernelsInstance = w);`,
    `}`,
  ].join('\n');
}

/** `$kernels()` over the shared memory (JavaScript only: the body a worker instantiates). */
function sharedKernelsText(bytes: Uint8Array, imports: readonly string[]): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  const host = imports.length ? `{ ${imports.map((n) => `${n.slice(5)}: ${n}`).join(', ')} }` : '{}';
  return [
    'let $kernelsInstance;',
    'function $kernels() {',
    '  if ($kernelsInstance) return $kernelsInstance;',
    `  const hex = '${hex}';`,
    '  const bytes = new Uint8Array(hex.length / 2);',
    '  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);',
    `  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { Math: ${host}, env: { memory: ${SHARED_MEMORY_NAME} } }).exports;`,
    '  return ($kernelsInstance = { fn: exports });',
    '}',
  ].join('\n');
}

/** Which buffers the kernel reads (copied in) and writes (copied out). */
function access(k: Kernel): { reads: Set<Buf>; writes: Set<Buf> } {
  const reads = new Set<Buf>();
  const writes = new Set<Buf>();
  walkStmts(k.body, (s) => {
    if (s.kind === 'store' || s.kind === 'fill') writes.add(s.buf);
    if (s.kind === 'copy') {
      writes.add(s.dst);
      reads.add(s.src);
    }
    for (const e of stmtExprs(s)) walkExpr(e, (x) => void (x.kind === 'load' && reads.add(x.buf)));
  });
  return { reads, writes };
}

/** The body of a WebAssembly kernel's function: copy in, call, copy out (`shared`: the call alone,
 * at the tensors' places in the shared memory). */
export function wasmKernelBody(k: Kernel, namer: Namer, typed: boolean, indent: string, shared = false): string[] {
  const sizes = k.sizes.map((z) => namer.of(z.v));
  if (shared) return [`${indent}$kernels().fn.${k.name}(${[...k.buffers.map((b) => `${namer.of(b.buf)}.byteOffset`), ...sizes].join(', ')});`];
  const { reads, writes } = access(k);
  const w = namer.fresh('$w');
  const at = namer.fresh('$at');
  const bang = typed ? '!' : '';
  const slot = (i: number) => `${at}[${i}]${bang}`;
  const out = [`const ${w} = $kernels();`, `const ${at} = ${w}.place([${k.buffers.map((b) => `${namer.of(b.buf)}.byteLength`).join(', ')}]);`];
  const view = (b: Buf, i: number) => `new ${ARRAY[b.elem]!}(${w}.memory.buffer, ${slot(i)}, ${namer.of(b)}.length)`;
  k.buffers.forEach((b, i) => reads.has(b.buf) && out.push(`${view(b.buf, i)}.set(${namer.of(b.buf)});`));
  out.push(`${w}.fn.${k.name}${bang}(${[...k.buffers.map((_, i) => slot(i)), ...sizes].join(', ')});`);
  k.buffers.forEach((b, i) => writes.has(b.buf) && out.push(`${namer.of(b.buf)}.set(${view(b.buf, i)});`));
  return out.map((l) => indent + l);
}
