// ort: onnxruntime-node (native, CPU, one thread) as the benchmark's native reference — a one-node
// ONNX model (MatMul, Conv, LogSoftmax …) written here as protobuf bytes, so no ONNX tooling is
// needed. onnxruntime-node is an optional peer: when it is not installed, `loadOrt()` is undefined
// and the cases skip it.
//
// Worked example: oneNodeModel('MatMul', [['A', [256, 256]], ['B', [256, 256]]], [['Y', [256, 256]]])
// is the bytes of a model computing Y = A·B; ortSession(bytes) runs it with intra-op threads = 1.

/** The module's API as the bench uses it (the package's own types are not needed). */
export interface Ort {
  readonly InferenceSession: { create(model: Uint8Array, opts: Record<string, unknown>): Promise<OrtSession> };
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}
export interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>;
}

let cached: Ort | null | undefined;

export async function loadOrt(): Promise<Ort | undefined> {
  if (cached === undefined) {
    try {
      const m = (await import('onnxruntime-node' as string)) as { default?: Ort } & Ort;
      cached = m.InferenceSession ? m : (m.default ?? null);
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

// protobuf: each field is a key (field number << 3 | wire type) then a varint or length-delimited bytes
const varint = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
};
const intField = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
const bytesField = (field: number, b: readonly number[]) => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const strField = (field: number, s: string) => bytesField(field, [...new TextEncoder().encode(s)]);

type Attr = number | readonly number[];

/** ValueInfoProto of a float tensor of known shape */
function valueInfo(name: string, shape: readonly number[]): number[] {
  const dims = shape.flatMap((d) => bytesField(1, intField(1, d)));
  const tensorType = [...intField(1, 1), ...bytesField(2, dims)];
  return [...strField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** AttributeProto: an int (type 2) or a list of ints (type 7) */
function attribute(name: string, a: Attr): number[] {
  if (typeof a === 'number') return [...strField(1, name), ...intField(3, a), ...intField(20, 2)];
  return [...strField(1, name), ...a.flatMap((x) => intField(8, x)), ...intField(20, 7)];
}

/** A model of one node over float32 inputs and outputs (ONNX IR 8, opset 17). */
export function oneNodeModel(op: string, inputs: readonly [string, readonly number[]][], outputs: readonly [string, readonly number[]][], attrs: Record<string, Attr> = {}): Uint8Array {
  const node = [...inputs.flatMap(([n]) => strField(1, n)), ...outputs.flatMap(([n]) => strField(2, n)), ...strField(3, 'n0'), ...strField(4, op), ...Object.entries(attrs).flatMap(([k, a]) => bytesField(5, attribute(k, a)))];
  const graph = [...bytesField(1, node), ...strField(2, 'g'), ...inputs.flatMap(([n, s]) => bytesField(11, valueInfo(n, s))), ...outputs.flatMap(([n, s]) => bytesField(12, valueInfo(n, s)))];
  const opset = [...strField(1, ''), ...intField(2, 17)];
  return Uint8Array.from([...intField(1, 8), ...bytesField(8, opset), ...bytesField(7, graph)]);
}

/** A session on one thread (intra- and inter-op), sequential execution. */
export function ortSession(ort: Ort, model: Uint8Array): Promise<OrtSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
}
