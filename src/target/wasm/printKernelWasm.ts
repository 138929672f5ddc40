// printKernelWasm: a whole kernel → a WebAssembly function over copies of its tensors, and the module
// of a program's WebAssembly kernels (one memory, the host's Math functions imported).
//
// Worked example, forward_Y of `Y[i] = relu(X[i])` (float32): the function
//   forward_Y(Y_at, X_at, I)      ;; byte addresses of Y and X in the memory, then the sizes
// whose loop (vectorized: 4 lanes a trip) reads X at X_at + 4·p and writes Y at Y_at + 4·p; the
// emitted JavaScript (wasmKernels.ts) copies X in, calls it, and copies Y out.
import { sym } from '../../loop/build.js';
import { elemBytes, type Buf, type Kernel, type Sym } from '../../loop/types.js';
import { assembleWasm, type WasmFunction, type WasmImport } from './assembleWasm.js';
import { printFunction } from './printWasm.js';
import { IMPORTED } from './wasmOps.js';

/** The function: one byte address per buffer (in the kernel's buffer order), then the sizes. */
export function printKernelWasm(k: Kernel): { fn: WasmFunction; imports: Set<string> } {
  const bases = new Map<Buf, Sym>(k.buffers.map((b) => [b.buf, sym(`${b.buf.name}_at`, 'i32')]));
  const params = [...bases.values(), ...k.sizes.map((z) => z.v)];
  return printFunction({
    name: k.name,
    params,
    body: k.body,
    place: (b) => {
      const base = bases.get(b);
      return base && { base, scale: elemBytes(b.elem) };
    },
    F: k.dtype,
  });
}

/** The host functions a module may import, by their `module.name`. */
const HOST: Readonly<Record<string, WasmImport>> = Object.fromEntries(
  Object.values(IMPORTED).map((m) => {
    const n = m.slice('Math.'.length);
    return [m, { module: 'Math', name: n, params: n === 'pow' || n === 'atan2' ? ['f64', 'f64'] : ['f64'], results: ['f64'] }];
  }),
);

/** The module of the kernels (exported by name) and the Math functions it imports; `shared`: over
 * the threads' shared memory, imported (the tensors live in it: no copies in or out). */
export function kernelModule(kernels: readonly Kernel[], shared = false): { bytes: Uint8Array; imports: string[] } {
  const printed = kernels.map((k) => [k.name, printKernelWasm(k)] as const);
  const imports = [...new Set(printed.flatMap(([, p]) => [...p.imports]))].sort();
  const bytes = assembleWasm(Object.fromEntries(printed.map(([n, p]) => [n, p.fn])), 1, imports.map((n) => HOST[n] ?? fail(n)), shared);
  return { bytes, imports };
}

const fail = (n: string): never => {
  throw new Error(`internal: no host function ${n}`);
};
