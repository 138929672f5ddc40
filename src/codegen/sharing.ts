// sharing: output arrays a caller passes in (`compile(…).forward(inputs, out)`, an Operator's `out`)
// may not share memory with an input or another output — the kernels would read an input after
// writing over it (a GEMM writes Y blocks while later blocks still read X) — except where the module
// says an output may take that input's very array (program.inPlace: an elementwise update such as
// sgd's Wnew over W).
//
// Worked example: affine with out.Y === inputs.X is refused ("output Y shares its memory with input
// X … affine updates nothing in place"); sgd with out.Wnew === inputs.W is allowed, and W is then
// reported as overwritten, so a backward that reads W can be refused.
import type { ModuleInfo } from '../target/module.js';

/** Do two typed arrays share any byte of memory? */
export const overlaps = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;

/**
 * Refuse a given output array that shares memory with an input or another array of `t`, unless it is
 * the very array of an input it may take in place; returns the inputs so overwritten.
 */
export function checkSharing(name: string, info: Pick<ModuleInfo, 'inputs' | 'inPlace'>, t: Readonly<Record<string, ArrayBufferView>>, given: readonly string[]): string[] {
  const overwritten: string[] = [];
  const prefix = name ? `${name}: ` : '';
  for (const o of given) {
    for (const x of info.inputs) {
      if (!t[x] || !overlaps(t[o]!, t[x])) continue;
      const allowed = info.inPlace[o] ?? [];
      if (!allowed.includes(x) || t[o] !== t[x])
        throw new Error(
          `${prefix}output ${o} shares its memory with input ${x}, and the kernels would read ${x} after writing over it: pass a separate array for ${o}` +
            (allowed.length ? ` (it may be the very array of ${allowed.join(' or ')})` : ` (${name || 'this program'} updates nothing in place)`),
        );
      overwritten.push(x);
    }
    for (const q of Object.keys(t)) if (q !== o && !info.inputs.includes(q) && t[q] && overlaps(t[o]!, t[q])) throw new Error(`${prefix}${o} and ${q} share memory: pass a separate array for each`);
  }
  return overwritten;
}
