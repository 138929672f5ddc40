// gpuTypes: the little of WebGPU that deltagrad calls, declared here — so that the package's types
// need neither the DOM library nor @webgpu/types, and a device from any implementation (a browser's
// navigator.gpu, Node's `webgpu` package) fits: a real GPUDevice has these members and more.
//
// Worked example: const device = await requestGpuDevice(); compile(src, { target: 'webgpu', device })
// — or pass the GPUDevice a page already has. Buffer usages are numbers (GPUBufferUsage.STORAGE is
// 0x80), so no global of an implementation is needed either.

// Methods are declared as methods (their parameters compare both ways), opaque objects as unknown.
export interface GpuBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
}

export interface GpuComputePass {
  setPipeline(pipeline: unknown): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(source: GpuBuffer, sourceOffset: number, destination: GpuBuffer, destinationOffset: number, size: number): void;
  finish(): unknown;
}

export interface GpuPipeline {
  getBindGroupLayout(index: number): unknown;
}

export interface GpuShaderModule {
  getCompilationInfo(): Promise<{ readonly messages: readonly { readonly message: string; readonly type: string; readonly lineNum: number; readonly linePos: number }[] }>;
}

/** A WebGPU device: a GPUDevice of the page, or of a Node implementation. */
export interface GpuDevice {
  readonly limits: { readonly maxStorageBuffersPerShaderStage: number; readonly maxComputeWorkgroupsPerDimension: number; readonly maxStorageBufferBindingSize: number };
  readonly queue: {
    writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void;
    submit(commands: readonly unknown[]): void;
  };
  createBuffer(descriptor: { size: number; usage: number; label?: string }): GpuBuffer;
  createShaderModule(descriptor: { code: string; label?: string }): GpuShaderModule;
  createComputePipelineAsync(descriptor: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): Promise<GpuPipeline>;
  createComputePipeline(descriptor: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): GpuPipeline;
  createBindGroup(descriptor: { layout: unknown; entries: { binding: number; resource: { buffer: GpuBuffer } }[] }): unknown;
  createCommandEncoder(): GpuCommandEncoder;
}

/** GPUBufferUsage and GPUMapMode, as numbers. */
export const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
export const MAP_READ = 0x1;

interface GpuAdapter {
  readonly limits: { readonly maxStorageBuffersPerShaderStage: number };
  requestDevice(descriptor?: unknown): Promise<GpuDevice>;
}

/**
 * A device from the environment's WebGPU (navigator.gpu), with as many storage buffers per shader
 * as the adapter allows; a clear error where there is none.
 */
export async function requestGpuDevice(): Promise<GpuDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapter | null> } } }).navigator?.gpu;
  if (!gpu)
    throw new Error(
      "WebGPU is not available here (no navigator.gpu). In a browser it needs WebGPU support and a secure context (https, or http://localhost); in Node, create a device with a WebGPU implementation (the `webgpu` package) and pass it: compile(src, { target: 'webgpu', device })",
    );
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU: no adapter (navigator.gpu.requestAdapter() gave null): no usable GPU, or WebGPU is disabled for it (headless Chromium offers one on the CPU with --enable-unsafe-webgpu)');
  return adapter.requestDevice({ requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage } });
}
