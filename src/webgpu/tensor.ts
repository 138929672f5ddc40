// tensor: a float32 (or int32) array that lives on a WebGPU device — what the GPU-resident calls take
// and give, so that one layer's output goes into the next layer's kernels without a copy through
// the CPU; `read()` brings it back.
//
// Worked example:
//   const X = gpuTensor(device, 6, 'f32', Float32Array.of(1, 2, 3, 4, 5, 6));   // uploaded
//   const { Y } = relu.forward({ X });           // Y: a GpuTensor, computed on the device
//   await Y.read();                               // Float32Array [1, 2, 3, 4, 5, 6]
import { MAP_READ, USAGE, type GpuBuffer, type GpuDevice } from './gpuTypes.js';

export interface GpuTensor {
  readonly device: GpuDevice;
  readonly buffer: GpuBuffer;
  /** elements */
  readonly length: number;
  readonly elem: 'f32' | 'i32';
  /** a copy of the contents (after every kernel queued so far has run) */
  read(): Promise<Float32Array>;
  /** replace the contents (queued: kernels queued before see the old ones) */
  write(data: Float32Array | Int32Array): void;
  /** free the GPU memory now (work already queued still completes) */
  destroy(): void;
}

/** A tensor of `length` elements on the device, uploaded from `data` when given. */
export function gpuTensor(device: GpuDevice, length: number, elem: 'f32' | 'i32' = 'f32', data?: Float32Array): GpuTensor {
  // at least 4 bytes: WebGPU refuses a binding of size 0
  const buffer = device.createBuffer({ size: Math.max(4, length * 4), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
  let destroyed = false;
  const t: GpuTensor = {
    device,
    buffer,
    length,
    elem,
    read: async () => (await readTensors(device, [t]))[0]!,
    write(d) {
      if (destroyed) throw new Error('write: this GpuTensor has been destroyed');
      const want = elem === 'i32' ? Int32Array : Float32Array;
      if (!(d instanceof want)) throw new Error(`write takes a${elem === 'i32' ? 'n Int32Array' : ' Float32Array'}, got ${(d as object)?.constructor?.name ?? typeof d}`);
      if (d.length !== length) throw new Error(`write: the tensor has ${length} elements, the array ${d.length}`);
      if (length) device.queue.writeBuffer(buffer, 0, d);
    },
    destroy() {
      destroyed = true;
      buffer.destroy();
    },
  };
  if (data) t.write(data);
  return t;
}

/** Copies of several tensors, in one staging buffer and one map; into `into` where given. The copy
 * commands are queued before this returns, so later kernels cannot change what is read. */
export function readTensors(device: GpuDevice, tensors: readonly GpuTensor[], into: readonly (Float32Array | undefined)[] = []): Promise<Float32Array[]> {
  const offsets: number[] = [];
  let size = 0;
  for (const t of tensors) {
    offsets.push(size);
    size += t.length * 4;
  }
  const staging = device.createBuffer({ size: Math.max(4, size), usage: USAGE.MAP_READ | USAGE.COPY_DST });
  const encoder = device.createCommandEncoder();
  tensors.forEach((t, i) => t.length && encoder.copyBufferToBuffer(t.buffer, 0, staging, offsets[i]!, t.length * 4));
  device.queue.submit([encoder.finish()]);
  return staging.mapAsync(MAP_READ).then(() => {
    const all = staging.getMappedRange();
    const out = tensors.map((t, i) => {
      const src = new Float32Array(all, offsets[i]!, t.length);
      const dst = into[i] ?? new Float32Array(t.length);
      dst.set(src);
      return dst;
    });
    staging.unmap();
    staging.destroy();
    return out;
  });
}
