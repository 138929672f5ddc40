// legalise: what a target cannot do, rewritten into what it can, before its printer runs — rules as
// data, one row per target.
//
// Worked example: JavaScript runs one thread and has no vector types, so a loop the lowering marked
// `parallel` or `vectorized` (a later pass's request) prints as a plain serial loop, and a loop still
// marked `unrolled` (one unrollSums could not unroll) as well. Floor and ceiling division, floor
// modulo and the micro-kernel calls are spelt by the printers themselves (js.ts: Math.floor(a / b);
// wasm/printWasm.ts: integer division corrected for negative numerators).
import { mapBlocks } from '../loop/mapLoop.js';
import type { Kernel, LoopKind, LStmt } from '../loop/types.js';

export type Target = 'js' | 'ts' | 'wasm';

/** The loop kinds each target runs as they are; any other kind becomes serial. */
const LOOP_KINDS: Record<Target, ReadonlySet<LoopKind>> = {
  js: new Set(['serial']),
  ts: new Set(['serial']),
  // the WebAssembly printer lowers a vectorized loop by its plan (opt/vectorizeLoops.ts)
  wasm: new Set(['serial', 'vectorized']),
};

export function legalise(k: Kernel, target: Target): Kernel {
  const kinds = LOOP_KINDS[target];
  const body = mapBlocks(k.body, (list) => (list.some((s) => s.kind === 'for' && !kinds.has(s.loop)) ? list.map((s): LStmt => (s.kind === 'for' && !kinds.has(s.loop) ? { ...s, loop: 'serial' } : s)) : list));
  return body === k.body ? k : { ...k, body };
}
