// Saving and loading weights: a JSON file with every tensor's shape and its float64 values in
// base64 (little-endian), so a load gives back exactly the bits that were saved.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

interface WeightsFile {
  format: 'deltagrad-weights';
  version: 1;
  model: string;
  meta?: Record<string, unknown>;
  tensors: Record<string, { shape: number[]; dtype: 'float64'; data: string }>;
}

const toBase64 = (a: Float64Array): string => {
  const bytes = new Uint8Array(a.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat64(i * 8, a[i]!, true);
  return Buffer.from(bytes).toString('base64');
};

const fromBase64 = (s: string, n: number, what: string): Float64Array => {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== n * 8) throw new Error(`${what}: expected ${n} float64 values (${n * 8} bytes), the file has ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
};

export function saveWeights(file: string, model: string, params: readonly Param[], meta: Record<string, unknown> = {}): void {
  const f: WeightsFile = { format: 'deltagrad-weights', version: 1, model, meta, tensors: {} };
  for (const p of params) f.tensors[p.name] = { shape: [...p.shape], dtype: 'float64', data: toBase64(p.data) };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(f, null, 1) + '\n');
}

/** Load weights saved by saveWeights into `params` (in place); names, shapes and the model must match. */
export function loadWeights(file: string, model: string, params: readonly Param[]): Record<string, unknown> {
  let f: WeightsFile;
  try {
    f = JSON.parse(readFileSync(file, 'utf8')) as WeightsFile;
  } catch (e) {
    throw new Error(`cannot read weights from ${file}: ${(e as Error).message}`);
  }
  if (f.format !== 'deltagrad-weights' || f.version !== 1) throw new Error(`${file} is not a deltagrad weights file (format ${String(f.format)}, version ${String(f.version)})`);
  if (f.model !== model) throw new Error(`${file} holds weights of the model ${f.model}, not ${model}`);
  for (const p of params) {
    const t = f.tensors[p.name];
    if (!t) throw new Error(`${file} has no tensor ${p.name} (it has ${Object.keys(f.tensors).join(', ')})`);
    if (t.shape.join(',') !== p.shape.join(',')) throw new Error(`${file}: ${p.name} has shape [${t.shape.join(', ')}], the model needs [${p.shape.join(', ')}]`);
    p.data.set(fromBase64(t.data, p.data.length, `${file}: ${p.name}`));
  }
  return f.meta ?? {};
}
