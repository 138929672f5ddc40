// runtime: the GPU back end that compile(src, { target: 'webgpu' }) loads on first use (a dynamic
// import, so that bundles of the JavaScript target leave it out): a program's kernels lowered to
// WGSL (pipelineWebgpu.ts, once per source) and made into pipelines on a device (gpuKernel.ts).
//
// Worked example: await gpuKernelOf(device, 'Y[i] = 2*X[i]', check(…), { I: 3 }, { X: [3], Y: [3] })
// is a GpuKernel whose forward({ X }) queues one shader of ⌈3/64⌉ workgroups.
import { differentiate } from '../diff/differentiate.js';
import type { Program } from '../ir/types.js';
import { lowerGpuProgram, type GpuModulePlan } from '../pipelineWebgpu.js';
import { createGpuKernel, type GpuKernel } from './gpuKernel.js';
import type { GpuDevice } from './gpuTypes.js';

const plans = new Map<string, GpuModulePlan>();

export function gpuKernelOf(device: GpuDevice, source: string, program: Program, sizes: Readonly<Record<string, number>>, shapes: Readonly<Record<string, readonly number[]>>): Promise<GpuKernel> {
  let plan = plans.get(source);
  if (!plan) plans.set(source, (plan = lowerGpuProgram(program, differentiate(program, { unitScalarSeeds: false }))));
  return createGpuKernel(device, plan, sizes, shapes);
}
