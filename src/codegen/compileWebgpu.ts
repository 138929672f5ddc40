// compileWebgpu: compile(source, { target: 'webgpu' }) — the program and its gradients as WGSL
// compute shaders (pipelineWebgpu.ts), run on a WebGPU device.
//
// Worked example:
//   const k = compile('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { target: 'webgpu', sizes: { I: 2, J: 2, K: 3 } });
//   (await k.forward({ A, X, B })).Y                  — Float32Arrays in and out
//   (await k.backward({ A, X, B }, { dY })).dX        — forward again, then the gradient kernels
//   const g = await k.gpu();                          — tensors that stay on the device:
//   const f = g.forward({ A: g.tensor('A', A), X, B });  g.backward(…, { forward: f })
// The device is the one given, or navigator.gpu's (requested on first use). The shaders are made
// once per program (cached by source), the pipelines once per device; WGSL has no f64, so the
// target computes in float32 and float64 is refused.
// The GPU back end (lowering, WGSL, pipelines: src/webgpu/runtime.ts) is loaded by a dynamic import
// on first use, so a bundle that calls compile only for JavaScript kernels leaves it in a chunk of
// its own (bundlers split dynamic imports); a program the GPU back end cannot take rejects the
// first call's Promise.
import { check } from '../ir/check.js';
import { resolveSizes, shapeOf } from '../ir/evaluate.js';
import { sizeNames } from '../ir/sizes.js';
import type { Program } from '../ir/types.js';
import type { GpuInput, GpuKernel } from '../webgpu/gpuKernel.js';
import { requestGpuDevice, type GpuDevice } from '../webgpu/gpuTypes.js';
import { readTensors, type GpuTensor } from '../webgpu/tensor.js';

export interface WebGpuCompileOptions {
  readonly target: 'webgpu';
  readonly sizes?: Record<string, number>;
  /** WebGPU computes in float32 (the default here); 'float64' is an error */
  readonly dtype?: 'float32';
  /** the device to run on (default: one from navigator.gpu, requested on first use) */
  readonly device?: GpuDevice;
}

/** A program compiled for WebGPU: forward and backward as Promises of Float32Arrays, and `gpu()` for
 * tensors that stay on the device between calls. */
export interface WebGpuKernel {
  readonly target: 'webgpu';
  readonly inputs: string[];
  readonly outputs: string[];
  readonly shapes: Record<string, number[]>;
  readonly dtype: 'float32';
  readonly sizes: Record<string, number>;
  /** outputs and intermediates; `out`: Float32Arrays to copy them into */
  forward(inputs: Record<string, GpuInput>, out?: Record<string, Float32Array>): Promise<Record<string, Float32Array>>;
  /** the gradient of every input (a scalar output's seed defaults to 1); `out`: Float32Arrays for them */
  backward(inputs: Record<string, GpuInput>, seeds?: Record<string, GpuInput>, out?: Record<string, Float32Array>): Promise<Record<string, Float32Array>>;
  /** the kernels on their device, made once: calls over GpuTensors that queue work and return at once */
  gpu(): Promise<GpuKernel>;
}

const programs = new Map<string, Program>();

const OPTIONS = ['target', 'sizes', 'dtype', 'device'];
const describe = (v: unknown) => (typeof v === 'string' ? `'${v}'` : typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'an array' : 'an object') : String(v));

function checkOptions(opts: WebGpuCompileOptions): void {
  for (const [k, v] of Object.entries(opts)) {
    if (!OPTIONS.includes(k)) throw new Error(`compile: unknown option ${k} for target 'webgpu' (options: ${OPTIONS.join(', ')})`);
    if (v === undefined) continue;
    if (k === 'dtype' && v !== 'float32')
      throw new Error(`compile: target 'webgpu' computes in float32 only (WGSL has no f64), got dtype ${describe(v)}: leave dtype out, or compile for target 'js' to compute in float64`);
    if (k === 'sizes') {
      if (v === null || typeof v !== 'object') throw new Error(`compile: sizes must be an object of whole numbers, e.g. { N: 32 }, got ${describe(v)}`);
      for (const [n, x] of Object.entries(v as object)) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new Error(`compile: size ${n} must be a whole number ≥ 0, got ${describe(x)}`);
    }
    if (k === 'device' && (v === null || typeof v !== 'object' || typeof (v as GpuDevice).createBuffer !== 'function')) throw new Error(`compile: device must be a WebGPU device (a GPUDevice), got ${describe(v)}`);
  }
}

export function compileWebgpu(source: string, opts: WebGpuCompileOptions): WebGpuKernel {
  checkOptions(opts);
  let p = programs.get(source);
  if (!p) programs.set(source, (p = check(source)));
  const program = p;
  const sizes = resolveSizes(p, {}, opts.sizes ?? {});
  const missing = [...new Set(p.tensors.flatMap((t) => t.shape.flatMap(sizeNames)))].filter((n) => !sizes.has(n));
  if (missing.length) throw new Error(`compile needs values for the sizes ${missing.join(', ')}: compile(source, { target: 'webgpu', sizes: { ${missing.map((n) => `${n}: …`).join(', ')} } })`);
  const sizeRecord = Object.fromEntries(p.sizes.map((s) => [s.name, sizes.get(s.name) ?? 0]));
  const shapes: Record<string, number[]> = {};
  for (const t of p.tensors) shapes[t.name] = shapeOf(p, t.name, sizes);
  const names = (role: string) => p.tensors.filter((t) => t.role === role).map((t) => t.name);
  const info = { inputs: names('input'), outputs: names('output'), intermediates: names('intermediate') };
  const data = new Set(p.tensors.filter((t) => t.elem === 'int').map((t) => t.name));
  let ready: Promise<GpuKernel> | undefined;
  const gpu = () =>
    (ready ??= Promise.all([opts.device ?? requestGpuDevice(), import('../webgpu/runtime.js')]).then(([device, runtime]) => runtime.gpuKernelOf(device, source, program, sizeRecord, shapes)));
  // the typed-array calls keep their tensors between calls (reused, not reallocated)
  let last: Record<string, GpuTensor> | undefined;
  const copyOut = (g: GpuKernel, names: readonly string[], t: Record<string, GpuTensor>, out: Record<string, Float32Array> | undefined) => {
    if (out !== undefined && (out === null || typeof out !== 'object')) throw new Error('out must be an object of Float32Arrays, e.g. { Y }');
    const into = names.map((n) => {
      const a = out?.[n];
      if (a !== undefined && (!(a instanceof Float32Array) || a.length !== t[n]!.length)) throw new Error(`out.${n} must be a Float32Array of ${t[n]!.length} elements`);
      return a;
    });
    for (const k of Object.keys(out ?? {})) if (!names.includes(k)) throw new Error(`${k} is not an output here (out may hold ${names.join(', ')})`);
    return readTensors(g.device, names.map((n) => t[n]!), into).then((arrays) => Object.fromEntries(names.map((n, i) => [n, arrays[i]!])));
  };
  const forwardNames = [...info.intermediates, ...info.outputs];
  return {
    target: 'webgpu',
    inputs: [...info.inputs],
    outputs: [...info.outputs],
    shapes,
    dtype: 'float32',
    sizes: sizeRecord,
    gpu,
    async forward(inputs, out) {
      const g = await gpu();
      last = g.forward(inputs, last);
      return copyOut(g, forwardNames, last, out);
    },
    async backward(inputs, seeds, out) {
      const g = await gpu();
      const grads = g.backward(inputs, seeds);
      const names = info.inputs.filter((n) => !data.has(n)).map((n) => `d${n}`);
      try {
        return await copyOut(g, names, grads, out);
      } finally {
        for (const n of names) grads[n]!.destroy();
      }
    },
  };
}
