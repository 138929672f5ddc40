// cliPoint: the point `derive --at` evaluates at — scalars, sizes, and tensors as JSON lists.
//
// Worked example: `--at 'x=2,X=[[1,2],[3,4]],tok=[0,2,1]'` splits at the commas outside brackets into
//   { x: 2, X: [[1,2],[3,4]], tok: [0,2,1] }
// and, for a program with X: [N, M] and tok: int[T], pointInputs gives X as the Float64Array
// [1, 2, 3, 4] with the sizes N = 2, M = 2, T = 3 read off the lists (unless given otherwise).
import { printSize } from './ir/sizes.js';
import type { Program } from './ir/types.js';

/** A value of --at: a number, or a JSON list of them, nested once per dimension. */
export type PointValue = number | readonly PointValue[];

export class PointError extends Error {}

/** `text` split at the commas outside brackets. */
function topLevelParts(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[') depth++;
    else if (ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A JSON list of finite numbers, nested to any depth, or undefined. */
function asList(text: string): PointValue | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const ok = (x: unknown): boolean => (Array.isArray(x) ? x.every(ok) : typeof x === 'number' && Number.isFinite(x));
  return Array.isArray(v) && ok(v) ? (v as PointValue) : undefined;
}

/** `x=1,X=[[1,2],[3,4]]` into `into`; a name given twice is an error, not a silent last-one-wins. */
export function parsePoint(text: string, into: Record<string, PointValue> = {}): Record<string, PointValue> {
  for (const part of topLevelParts(text)) {
    const m = /^\s*([\p{L}_][\p{L}\p{N}_]*)\s*=\s*(\S.*?)\s*$/su.exec(part);
    const raw = m?.[2] ?? '';
    const v: PointValue | undefined = raw.startsWith('[') ? asList(raw) : /\s/.test(raw) ? undefined : Number(raw);
    if (!m || v === undefined || (typeof v === 'number' && !Number.isFinite(v)))
      throw new PointError(`--at expects name=value pairs separated by commas, a value a number or a JSON list of numbers (X=[[1,2],[3,4]]), found "${part}"`);
    // own keys: `in` sees Object.prototype's toString, and `into.__proto__ = 1` sets no key at all
    if (Object.hasOwn(into, m[1]!)) throw new PointError(`--at gives ${m[1]} twice (${m[1]}=${JSON.stringify(into[m[1]!])} and ${m[1]}=${raw})`);
    Object.defineProperty(into, m[1]!, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return into;
}

/** The lengths of a nested list's levels, or a message when it is ragged or mixes lists and numbers. */
function dimsOf(v: PointValue, name: string): number[] {
  if (typeof v === 'number') return [];
  const inner = v.map((x) => dimsOf(x, name));
  const first = inner[0] ?? [];
  if (inner.some((d) => d.length !== first.length || d.some((n, k) => n !== first[k])))
    throw new PointError(`--at gives ${name} a ragged list: every row of a level must have the same length`);
  return [v.length, ...first];
}

const flatten = (v: PointValue): number[] => (typeof v === 'number' ? [v] : v.flatMap(flatten));

/** The inputs at the point (tensors flattened, row-major), and the sizes: those --at names, and
 *  those a tensor's list gives (X: [N, M] given [[1,2],[3,4]] makes N = M = 2). */
export function pointInputs(
  p: Program,
  at: Record<string, PointValue>,
): { inputs: Record<string, number | Float64Array>; sizes: Record<string, number>; dims: Record<string, number[]> } {
  const inputs = p.tensors.filter((t) => t.role === 'input');
  const sizeNames = p.sizes.map((s) => s.name);
  const sizes: Record<string, number> = {};
  const values: [string, number | Float64Array][] = [];
  const listed: [string, number[]][] = [];
  const set = (k: string, v: number) => Object.defineProperty(sizes, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(at)) {
    if (sizeNames.includes(k)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new PointError(`--at gives the size ${k} the value ${JSON.stringify(v)}: a size is a whole number ≥ 0`);
      set(k, v);
    } else if (!inputs.some((t) => t.name === k))
      throw new PointError(
        `--at names ${k}, which is neither an input nor a size (inputs: ${inputs.map((t) => t.name).join(', ') || '(none)'}${sizeNames.length ? `; sizes: ${sizeNames.join(', ')}` : ''})`,
      );
  }
  for (const t of inputs) {
    if (!Object.hasOwn(at, t.name)) throw new PointError(`--at needs a value for the input ${t.name}${t.shape.length ? `, a list of shape [${t.shape.map(printSize).join(', ')}]` : ''}`);
    const v = at[t.name]!;
    const dims = dimsOf(v, t.name);
    if (dims.length !== t.shape.length) {
      const rank = (n: number) => (n === 0 ? 'a number' : `a list nested ${n} deep`);
      throw new PointError(`--at gives ${t.name} ${rank(dims.length)}, but ${t.name} ${t.shape.length ? `has shape [${t.shape.map(printSize).join(', ')}]: give ${rank(t.shape.length)}` : 'is a scalar: give a number'}`);
    }
    // a dimension that is one size name takes its length from the list, unless --at or dims gave it
    t.shape.forEach((d, k) => {
      const name = printSize(d);
      if (!sizeNames.includes(name) || Object.hasOwn(sizes, name) || p.sizes.find((s) => s.name === name)?.default !== undefined) return;
      set(name, dims[k]!);
    });
    values.push([t.name, typeof v === 'number' ? v : Float64Array.from(flatten(v))]);
    listed.push([t.name, dims]);
  }
  return { inputs: Object.fromEntries(values), sizes, dims: Object.fromEntries(listed) };
}

/** A tensor's list against its shape at the point's sizes: the message when they differ. */
export function shapeMismatch(p: Program, name: string, dims: readonly number[], shape: readonly number[]): string | undefined {
  if (dims.length === shape.length && dims.every((n, k) => n === shape[k])) return undefined;
  const t = p.tensors.find((x) => x.name === name)!;
  return `--at gives ${name} a list of shape [${dims.join(', ')}], but ${name}: [${t.shape.map(printSize).join(', ')}] is [${shape.join(', ')}] here`;
}
