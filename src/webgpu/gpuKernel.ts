// gpuKernel: a compiled program on a WebGPU device — its compute pipelines (made once), the sizes'
// uniform blocks, and forward/backward over tensors that stay on the device. Each call encodes its
// kernels in one compute pass and submits it; nothing waits for the GPU until a tensor is read.
//
// Worked example (a training step of one layer; see docs/webgpu.md):
//   const g = await compile(conv2dSource, { target: 'webgpu', sizes, device }).gpu();
//   const f = g.forward({ X, K, b });                                  // f.Y: a GpuTensor
//   const { dK, db } = g.backward({ X, K, b }, { dY }, { forward: f, wrt: ['K', 'b'] });
// Inputs may be GpuTensors, Float32Arrays (uploaded into a buffer kept for that input) or numbers
// (a scalar input); integer data an Int32Array, checked on the host. An output may take an input's very tensor only where the program allows it
// (program.inPlace: sgd's Wnew over W); the kernel then reads the input from the output's binding.
import type { ModuleInfo } from '../target/module.js';
import type { GpuKernelPlan, GpuModulePlan } from '../pipelineWebgpu.js';
import { USAGE, type GpuBuffer, type GpuDevice, type GpuPipeline } from './gpuTypes.js';
import { gpuTensor, type GpuTensor } from './tensor.js';
import { checkData as checkDataOf } from '../ir/evaluate.js';

/** integer data (declared int) takes an Int32Array or an array of whole numbers, checked on the host */
export type GpuInput = GpuTensor | Float32Array | Int32Array | readonly number[] | number;

/** What forward returns: its outputs and intermediates (pass it back to backward, or as `out` to the
 * next forward to reuse its tensors). */
export type GpuForward = Readonly<Record<string, GpuTensor>>;

export interface GpuKernel {
  readonly device: GpuDevice;
  /** every tensor's shape (gradients dX have X's) */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** a tensor of `name`'s shape (an input, output, intermediate or gradient), uploaded from data */
  tensor(name: string, data?: Float32Array | number): GpuTensor;
  forward(inputs: Readonly<Record<string, GpuInput>>, out?: Readonly<Record<string, GpuTensor>>): GpuForward;
  /** gradients of the inputs (of those in `wrt`); `forward`: a forward of these inputs, whose values
   * the gradients read (else the forward kernels run first); `out`: tensors for the gradients */
  backward(
    inputs: Readonly<Record<string, GpuInput>>,
    seeds?: Readonly<Record<string, GpuInput>>,
    opts?: { readonly forward?: GpuForward; readonly wrt?: readonly string[]; readonly out?: Readonly<Record<string, GpuTensor>> },
  ): Record<string, GpuTensor>;
}

/** What a forward keeps beside its result: the arg-max records, and which inputs it overwrote. */
interface Saved {
  readonly owner: object;
  readonly records: Record<string, GpuTensor>;
  readonly overwritten: readonly string[];
}

interface Compiled {
  readonly plan: GpuKernelPlan;
  readonly pipeline: GpuPipeline;
  readonly variants: Map<string, GpuPipeline>;
  readonly sizes?: GpuBuffer;
  readonly groups: readonly [number, number];
}

/** Pipelines of one device, by WGSL text: a program compiled twice (or two layers with the same
 * kernels) shares them. */
const PIPELINES = new WeakMap<GpuDevice, Map<string, Promise<GpuPipeline>>>();

async function pipelineOf(device: GpuDevice, code: string, label: string): Promise<GpuPipeline> {
  let cache = PIPELINES.get(device);
  if (!cache) PIPELINES.set(device, (cache = new Map()));
  let p = cache.get(code);
  if (!p) {
    const module = device.createShaderModule({ code, label });
    p = device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label }).catch(async (e: unknown) => {
      const info = await module.getCompilationInfo().catch(() => ({ messages: [] }));
      const lines = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new Error(`internal: WebGPU refused the kernel ${label}: ${e instanceof Error ? e.message : String(e)}${lines.length ? `\n${lines.join('\n')}` : ''}\n${code}`);
    });
    cache.set(code, p);
  }
  return p;
}

export async function createGpuKernel(device: GpuDevice, plan: GpuModulePlan, sizes: Readonly<Record<string, number>>, shapes: Readonly<Record<string, readonly number[]>>, name = 'kernel'): Promise<GpuKernel> {
  const info: ModuleInfo = plan.info;
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const compile = async (k: GpuKernelPlan): Promise<Compiled> => {
    const storage = k.buffers.length;
    if (storage > device.limits.maxStorageBuffersPerShaderStage)
      throw new Error(`${name}: the kernel ${k.name} (${k.formula}) binds ${storage} tensors, and this WebGPU device allows ${device.limits.maxStorageBuffersPerShaderStage} storage buffers per shader`);
    const n = k.workgroups(sizes);
    const x = Math.min(n, maxGroups);
    const y = x ? Math.ceil(n / x) : 0;
    if (y > maxGroups) throw new Error(`${name}: the kernel ${k.name} needs ${n} workgroups, more than this device dispatches (${maxGroups}²)`);
    let uniform: GpuBuffer | undefined;
    if (k.sizes.length) {
      // a 16-byte multiple: the size of a uniform block of i32 members is rounded up to 16
      uniform = device.createBuffer({ size: Math.ceil((k.sizes.length * 4) / 16) * 16, usage: USAGE.UNIFORM | USAGE.COPY_DST });
      device.queue.writeBuffer(uniform, 0, Int32Array.from(k.sizes, (s) => sizes[s]!));
    }
    return { plan: k, pipeline: await pipelineOf(device, k.wgsl(), `${name}.${k.name}`), variants: new Map(), ...(uniform ? { sizes: uniform } : {}), groups: [x, y] };
  };
  const forward = await Promise.all(plan.forward.map(compile));
  const backward = await Promise.all(plan.backward.map(compile));
  const count = (t: string) => (shapes[t] ?? shapes[t.slice(1)] ?? []).reduce((a, b) => a * b, 1);
  const shapeText = (t: string) => `[${(shapes[t] ?? shapes[t.slice(1)] ?? []).join(', ')}]`;
  const self = {};
  const saved = new WeakMap<object, Saved>();
  /** one buffer per input that typed arrays and numbers are uploaded into, reused across calls
   * (the queue runs writes and kernels in order, so each call's kernels see its own values) */
  const uploads = new Map<string, GpuTensor>();

  const data = new Set(info.data ?? []);
  const dataValues = new Map<string, { values: Float64Array; shape: number[] }>();
  /** integer data: whole numbers, uploaded as i32 after the host has checked them (a shader cannot
   *  throw): every statement that subscripts through them, the interpreter's message */
  const dataOf = (key: string, v: GpuInput | undefined): GpuTensor => {
    const n = count(key);
    const whole = typeof v === 'number' ? [v] : v instanceof Int32Array || Array.isArray(v) ? (v as ArrayLike<number>) : undefined;
    if (!whole) throw new Error(`${name}: input ${key} is integer data (declared int): pass an Int32Array (or an array of whole numbers) of ${n} elements (shape ${shapeText(key)}), got ${(v as object)?.constructor?.name ?? typeof v}`);
    if (whole.length !== n) throw new Error(`${name}: input ${key} has ${whole.length} elements but its shape ${shapeText(key)} needs ${n}`);
    const values = Float64Array.from(whole);
    const bad = values.findIndex((x) => !Number.isInteger(x) || Math.abs(x) > 2 ** 31 - 1);
    if (bad >= 0) throw new Error(`${name}: input ${key} is integer data (declared int): its element ${bad} is ${String(values[bad])}`);
    dataValues.set(key, { values, shape: [...(shapes[key] ?? [])] });
    let t = uploads.get(key);
    if (!t) uploads.set(key, (t = gpuTensor(device, n, 'i32')));
    t.write(Int32Array.from(values));
    return t;
  };
  const checkData = () => {
    if (!plan.dataChecks.length) return;
    const shapeMap = new Map(Object.entries(shapes).map(([k, v]) => [k, [...v]] as const));
    const sizeMap = new Map(Object.entries(sizes));
    for (const s of plan.dataChecks) checkDataOf(s, dataValues, shapeMap, sizeMap);
  };
  const tensorOf = (what: string, key: string, v: GpuInput | undefined, shapeOf: string): GpuTensor => {
    if (what === 'input' && data.has(key)) return dataOf(key, v);
    const n = count(shapeOf);
    if (v === undefined) throw new Error(`${name}: missing ${what} ${key} (a GpuTensor or Float32Array of ${n} elements, shape ${shapeText(shapeOf)})`);
    if (typeof v === 'number' || v instanceof Float32Array) {
      const data = typeof v === 'number' ? Float32Array.of(v) : v;
      if (data.length !== n) throw new Error(`${name}: ${what} ${key} has ${data.length} element${data.length === 1 ? '' : 's'} but its shape ${shapeText(shapeOf)} needs ${n}`);
      let t = uploads.get(key);
      if (!t) uploads.set(key, (t = gpuTensor(device, n)));
      t.write(data);
      return t;
    }
    return checked(what, key, v, n, shapeOf);
  };
  const checked = (what: string, key: string, v: unknown, n: number, shapeOf: string): GpuTensor => {
    const t = v as GpuTensor;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || !('buffer' in t) || typeof t.length !== 'number')
      throw new Error(`${name}: ${what} ${key} must be a GpuTensor${what === 'output' || what === 'gradient' ? '' : ', a Float32Array or a number'}, got ${(v as object)?.constructor?.name ?? typeof v}`);
    if (t.device !== device) throw new Error(`${name}: ${what} ${key} lives on another WebGPU device`);
    if (t.elem !== 'f32') throw new Error(`${name}: ${what} ${key} holds ${t.elem}, not f32`);
    if (t.length !== n) throw new Error(`${name}: ${what} ${key} has ${t.length} elements but its shape ${shapeText(shapeOf)} needs ${n}`);
    return t;
  };
  const outputOf = (what: string, key: string, given: Readonly<Record<string, GpuTensor>> | undefined): GpuTensor => {
    const v = given?.[key];
    return v === undefined ? gpuTensor(device, count(key)) : checked(what, key, v, count(key), key);
  };

  /** Refuses a written tensor shared with another tensor of the call, except an output taking an
   * input's tensor where the program allows it; returns those input → output pairs. */
  const sharing = (t: Readonly<Record<string, GpuTensor>>, written: readonly string[]): Map<string, string> => {
    const alias = new Map<string, string>();
    for (const o of written)
      for (const [q, x] of Object.entries(t)) {
        if (q === o || x.buffer !== t[o]!.buffer) continue;
        const allowed = info.inPlace[o] ?? [];
        if (info.inputs.includes(q) && allowed.includes(q)) alias.set(q, o);
        else if (written.includes(q) || info.inputs.includes(q) || info.seeds.includes(q))
          throw new Error(`${name}: ${o} and ${q} are the same GpuTensor, and the kernels would ${info.inputs.includes(q) || info.seeds.includes(q) ? `read ${q} after writing over it` : 'write both'}: pass a separate tensor for ${o}${allowed.length ? ` (it may be ${allowed.join(' or ')} itself)` : ''}`);
      }
    return alias;
  };

  const dispatch = (kernels: readonly Compiled[], t: Readonly<Record<string, GpuTensor>>, alias: ReadonlyMap<string, string>) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const k of kernels) {
      if (!k.groups[0]) continue;
      // an input updated in place is read from its output's binding
      const mine = new Map([...alias].filter(([i, o]) => k.plan.buffers.some((b) => b.key === i) && k.plan.buffers.some((b) => b.key === o && b.write)));
      let pipeline = k.pipeline;
      if (mine.size) {
        const key = [...mine].map(([i, o]) => `${i}>${o}`).join(',');
        let p = k.variants.get(key);
        if (!p) k.variants.set(key, (p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: k.plan.wgsl(mine), label: `${name}.${k.plan.name}` }), entryPoint: 'main' } })));
        pipeline = p;
      }
      const entries = [...(k.sizes ? [k.sizes] : []), ...k.plan.buffers.filter((b) => !mine.has(b.key)).map((b) => t[b.key]!.buffer)].map((buffer, binding) => ({ binding, resource: { buffer } }));
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(k.groups[0], k.groups[1]);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
  };

  const forwardNames = [...info.intermediates, ...info.outputs];
  const inputsOf = (inputs: Readonly<Record<string, GpuInput>>, call: string): Record<string, GpuTensor> => {
    if (inputs === null || typeof inputs !== 'object') throw new Error(`${name}.${call} takes an object of inputs (${info.inputs.join(', ')})`);
    for (const k of Object.keys(inputs)) if (!info.inputs.includes(k)) throw new Error(`${name}: ${k} is not an input of the program (inputs: ${info.inputs.join(', ')})`);
    const t: Record<string, GpuTensor> = Object.create(null) as Record<string, GpuTensor>;
    for (const k of info.inputs) t[k] = tensorOf('input', k, inputs[k], k);
    checkData();
    return t;
  };
  const runForward = (t: Record<string, GpuTensor>, out: Readonly<Record<string, GpuTensor>> | undefined, extra: readonly string[]): Saved => {
    if (out !== undefined && (out === null || typeof out !== 'object')) throw new Error(`${name}: out must be an object of GpuTensors, e.g. { Y }`);
    for (const k of Object.keys(out ?? {})) if (!forwardNames.includes(k) && !extra.includes(k)) throw new Error(`${name}: ${k} is not an output here (out may hold ${[...forwardNames, ...extra].join(', ')})`);
    const before = out ? saved.get(out) : undefined;
    for (const n of forwardNames) t[n] = outputOf('output', n, out);
    const records: Record<string, GpuTensor> = {};
    for (const r of info.records) records[r] = before?.owner === self ? before.records[r]! : gpuTensor(device, count(r.replace(/_argmax$/, '')), 'i32');
    const alias = sharing(t, forwardNames);
    dispatch(forward, { ...t, ...records }, alias);
    return { owner: self, records, overwritten: [...alias.keys()] };
  };

  return {
    device,
    shapes,
    tensor(key, data) {
      const shapeOf = shapes[key] ? key : key.startsWith('d') && shapes[key.slice(1)] ? key.slice(1) : undefined;
      if (!shapeOf) throw new Error(`${name}: no tensor ${key} (tensors: ${Object.keys(shapes).join(', ')})`);
      const t = gpuTensor(device, count(shapeOf));
      if (data !== undefined) t.write(typeof data === 'number' ? Float32Array.of(data) : data);
      return t;
    },
    forward(inputs, out) {
      const t = inputsOf(inputs, 'forward');
      const s = runForward(t, out, []);
      const result: Record<string, GpuTensor> = Object.fromEntries(forwardNames.map((n) => [n, t[n]!]));
      saved.set(result, s);
      return result;
    },
    backward(inputs, seeds = {}, opts = {}) {
      // integer data has no gradient
      const wrt = opts.wrt ?? info.inputs.filter((n) => !data.has(n));
      for (const w of wrt) if (!info.inputs.includes(w)) throw new Error(`${name}: wrt names ${String(w)}, which is not an input (inputs: ${info.inputs.join(', ')})`);
      for (const w of wrt) if (data.has(w)) throw new Error(`${name}: wrt names ${String(w)}, which is integer data: it has no gradient`);
      for (const k of Object.keys(seeds)) if (!info.seeds.includes(k)) throw new Error(`${name}: ${k} is not a seed of the program (seeds: ${info.seeds.join(', ')}; a seed is d + an output's name)`);
      const t = inputsOf(inputs, 'backward');
      for (const d of info.seeds) {
        const scalar = (shapes[d.slice(1)] ?? []).length === 0;
        t[d] = tensorOf('seed', d, seeds[d] ?? (scalar ? 1 : undefined), d.slice(1));
      }
      let s: Saved;
      const temporaries: GpuTensor[] = [];
      if (opts.forward) {
        s = saved.get(opts.forward)!;
        if (s?.owner !== self) throw new Error(`${name}.backward: opts.forward must be what this kernel's forward returned`);
        for (const n of forwardNames) t[n] = opts.forward[n]!;
      } else {
        s = runForward(t, undefined, []);
        temporaries.push(...forwardNames.map((n) => t[n]!), ...Object.values(s.records));
      }
      // intermediates' gradients feed the inputs'; an input's gradient feeds nothing else
      const wanted = info.gradients.filter((g) => info.intermediates.includes(g.slice(1)) || wrt.includes(g.slice(1)));
      for (const g of wanted) {
        const stale = (info.gradientReads[g] ?? []).filter((x) => s.overwritten.includes(x));
        if (stale.length) throw new Error(`${name}.backward: ${g} reads ${stale.join(', ')}, which forward overwrote in place: pass separate output tensors to forward to differentiate it, or leave ${g.slice(1)} out of wrt`);
      }
      for (const k of Object.keys(opts.out ?? {})) if (!wanted.includes(k) || !info.inputs.includes(k.slice(1))) throw new Error(`${name}: ${k} is not a gradient computed here (out may hold ${wanted.filter((g) => info.inputs.includes(g.slice(1))).join(', ')})`);
      for (const g of wanted) {
        t[g] = outputOf('gradient', g, opts.out);
        if (!info.inputs.includes(g.slice(1))) temporaries.push(t[g]);
      }
      const alias = sharing(t, wanted);
      if (alias.size) throw new Error(`${name}: the gradient ${[...alias.values()][0]} is the same GpuTensor as ${[...alias.keys()][0]}: pass a separate tensor`);
      dispatch(backward.filter((k) => k.plan.buffers.some((b) => b.write && wanted.includes(b.key))), { ...t, ...s.records }, new Map());
      // queued work keeps them alive until it is done
      for (const x of temporaries) x.destroy();
      return Object.fromEntries(wrt.map((n) => [`d${n}`, t[`d${n}`]!]));
    },
  };
}
