// The WGSL printer in Node (no GPU needed): the shaders of a few layers as golden files — one
// invocation per element (relu), the tiled GEMM (affine), the workgroup tree reductions
// (softmax_xent) — printed the same on every run, and the errors of the WebGPU target that come
// before any device is asked for. That the shaders compute the right numbers is test/webgpu's job.
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/ir/check.js';
import { differentiate } from '../../../src/diff/differentiate.js';
import { compile } from '../../../src/index.js';
import { lowerGpuProgram } from '../../../src/pipelineWebgpu.js';
import { layerSource } from '../../codegen/support.js';

const shaders = (layer: string) => {
  const p = check(layerSource(layer));
  const plan = lowerGpuProgram(p, differentiate(p, { unitScalarSeeds: false }));
  return [...plan.forward, ...plan.backward].map((k) => `// ── ${k.name}\n${k.wgsl()}`).join('\n');
};

describe('printWgsl', () => {
  it.each(['relu', 'affine', 'softmax_xent', 'maxpool2d'])('%s: the golden shaders, the same text on every run', async (layer) => {
    const text = shaders(layer);
    expect(shaders(layer)).toBe(text);
    await expect(text).toMatchFileSnapshot(`./__snapshots__/${layer}.wgsl`);
  });

  it('the GEMM tiles live in workgroup memory, and each reduction is a tree between barriers', () => {
    const affine = shaders('affine');
    expect(affine).toMatch(/var<workgroup> As: array<f32, 512>;/);
    expect(affine.match(/workgroupBarrier\(\);/g)!.length).toBeGreaterThanOrEqual(6);
    // sin and cos are the accurate helpers, never WGSL's (2⁻¹¹ absolute on [−π, π])
    const p = check('dims N\nX: [N]\nY[i] = sin(X[i]) + cos(X[i])');
    const wgsl = lowerGpuProgram(p, []).forward[0]!.wgsl();
    expect(wgsl).toMatch(/dg_sin\(X\[i\]\) \+ dg_cos\(X\[i\]\)/);
    expect(wgsl).toMatch(/fn dg_sincos\(/);
  });

  it('a function or a matrix function with no WGSL form yet is a clear error, not a shader that fails to compile', () => {
    const gpu = (src: string) => {
      const p = check(src);
      return lowerGpuProgram(p, []).forward.map((k) => k.wgsl()).join('\n');
    };
    expect(() => gpu('dims N\nX: [N]\nY[i] = cbrt(X[i])')).toThrow("the WebGPU target has no cbrt yet: compile this program without { target: 'webgpu' }");
    expect(() => gpu('dims N\nX: [N]\nY[i] = erf(X[i])')).toThrow('the WebGPU target has no erf yet');
    expect(() => gpu('dims N\nA: [N, N]\nf = logdet(A)')).toThrow(/the WebGPU target cannot compute logdet\(A\) yet/);
  });

  it('integer data: an array<i32> binding; the scatter-add gradient in its gather form (no atomics); the data checked on the host', () => {
    const p = check('dims N, V, D\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]');
    const m = lowerGpuProgram(p, differentiate(p));
    const [fwd, bwd] = [m.forward[0]!.wgsl(), m.backward[0]!.wgsl()];
    expect(fwd).toContain('var<storage, read> tok: array<i32>;');
    expect(fwd).toContain('E[tok[n] * D + d]');
    expect(m.backward.map((k) => k.formula)).toEqual(['dE[v,d] = sum(n) (tok[n] == v)*dY[n,d]']);
    expect(bwd).not.toMatch(/atomic/);
    expect(m.info.data).toEqual(['tok']);
    expect(m.dataChecks.map((s) => s.tensor)).toEqual(['Y']);
  });

  it('a named constant is a number in the shader, as in the CPU kernels: no buffer for it', () => {
    const p = check('const eps = 0.25\ndims N\nX: [N]\nY[i] = X[i] + eps');
    const wgsl = lowerGpuProgram(p, []).forward[0]!.wgsl();
    expect(wgsl).toMatch(/X\[i\] \+ 0\.25f?/);
    expect(wgsl).not.toMatch(/\beps\b/);
  });
});

describe("compile(src, { target: 'webgpu' }) before any device", () => {
  const relu = layerSource('relu');
  it('float64 is a clear error (WGSL has no f64)', () => {
    expect(() => compile(relu, { target: 'webgpu', sizes: { N: 2, D: 3 }, dtype: 'float64' as 'float32' })).toThrow(/target 'webgpu' computes in float32 only \(WGSL has no f64\), got dtype 'float64'/);
  });
  it('unknown options, missing sizes, a foreign device and an unknown target are refused', () => {
    expect(() => compile(relu, { target: 'webgpu', sizes: { N: 2, D: 3 }, threads: 2 } as never)).toThrow(/unknown option threads for target 'webgpu'/);
    expect(() => compile(relu, { target: 'webgpu', sizes: { N: 2 } })).toThrow(/compile needs values for the sizes D/);
    expect(() => compile(relu, { target: 'webgpu', sizes: { N: 2, D: 3 }, device: {} as never })).toThrow(/device must be a WebGPU device/);
    expect(() => compile(relu, { target: 'wgsl' } as never)).toThrow(/target must be 'js' \(the default\) or 'webgpu', got 'wgsl'/);
  });
  it('shapes come at once; without navigator.gpu (plain Node) the first call rejects and says what to do', async () => {
    const k = compile(relu, { target: 'webgpu', sizes: { N: 2, D: 3 } });
    expect(k.shapes).toEqual({ X: [2, 3], Y: [2, 3] });
    expect(k.inputs).toEqual(['X']);
    await expect(k.forward({ X: new Float32Array(6) })).rejects.toThrow(/WebGPU is not available here \(no navigator.gpu\).*the `webgpu` package/);
  });
});
