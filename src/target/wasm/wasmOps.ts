// wasmOps: the tables of the WebAssembly printer (printWasm.ts) — which instruction spells each
// loop IR operator at each type — and its peephole rules over adjacent instructions.
//
// Worked example: ARITH['+'].f64x2 is 'f64x2.add', ARITH['<'].i32 is 'i32.lt_s' (the IR's i32 are
// signed, as in JavaScript), CAST['f64>i32'] is the saturating truncation; an operator missing at a
// type (ARITH['/'].i32, floor division) is one printWasm legalises or reports. The peephole turns
// `local.set x; local.get x` into `local.tee x` and `i32.const 8; i32.mul` into `i32.const 3; i32.shl`.
import type { BinaryOp, Intrinsic, Ty, VectorTy } from '../../loop/types.js';
import type { Instr, Op, WasmType } from './assembleWasm.js';

export const WASM_TYPE: Record<Ty, WasmType> = { i32: 'i32', bool: 'i32', f32: 'f32', f64: 'f64', f32x4: 'v128', f64x2: 'v128', i32x4: 'v128' };

export type ByTy = Partial<Record<Ty, Op>>;
export const ARITH: Partial<Record<BinaryOp, ByTy>> = {
  '+': { i32: 'i32.add', f32: 'f32.add', f64: 'f64.add', f32x4: 'f32x4.add', f64x2: 'f64x2.add', i32x4: 'i32x4.add' },
  '-': { i32: 'i32.sub', f32: 'f32.sub', f64: 'f64.sub', f32x4: 'f32x4.sub', f64x2: 'f64x2.sub', i32x4: 'i32x4.sub' },
  '*': { i32: 'i32.mul', f32: 'f32.mul', f64: 'f64.mul', f32x4: 'f32x4.mul', f64x2: 'f64x2.mul', i32x4: 'i32x4.mul' },
  '/': { f32: 'f32.div', f64: 'f64.div', f32x4: 'f32x4.div', f64x2: 'f64x2.div' },
  // the operands are ≥ 0 (types.ts), where C's remainder is the floor one
  rem: { i32: 'i32.rem_s' },
  // NaN-propagating, −0 < +0: Math.min / Math.max exactly (i32 is legalised to a select)
  min: { f32: 'f32.min', f64: 'f64.min', f32x4: 'f32x4.min', f64x2: 'f64x2.min', i32x4: 'i32x4.min_s' },
  max: { f32: 'f32.max', f64: 'f64.max', f32x4: 'f32x4.max', f64x2: 'f64x2.max', i32x4: 'i32x4.max_s' },
  // bools are 0 or 1 and the operands pure: no short circuit needed unless one may trap (printWasm)
  '&&': { bool: 'i32.and' },
  '||': { bool: 'i32.or' },
  // i32 compares signed: sizes and offsets are int32 in the IR, as in JavaScript
  '<': { i32: 'i32.lt_s', f32: 'f32.lt', f64: 'f64.lt' },
  '<=': { i32: 'i32.le_s', f32: 'f32.le', f64: 'f64.le' },
  '>': { i32: 'i32.gt_s', f32: 'f32.gt', f64: 'f64.gt' },
  '>=': { i32: 'i32.ge_s', f32: 'f32.ge', f64: 'f64.ge' },
  '==': { i32: 'i32.eq', bool: 'i32.eq', f32: 'f32.eq', f64: 'f64.eq' },
  '!=': { i32: 'i32.ne', bool: 'i32.ne', f32: 'f32.ne', f64: 'f64.ne' },
};
/** comparisons of vectors, lane by lane: a mask of all ones where they hold */
export const COMPARE_LANES: Partial<Record<BinaryOp, ByTy>> = {
  '<': { f32x4: 'f32x4.lt', f64x2: 'f64x2.lt', i32x4: 'i32x4.lt_s' },
  '<=': { f32x4: 'f32x4.le', f64x2: 'f64x2.le', i32x4: 'i32x4.le_s' },
  '>': { f32x4: 'f32x4.gt', f64x2: 'f64x2.gt', i32x4: 'i32x4.gt_s' },
  '>=': { f32x4: 'f32x4.ge', f64x2: 'f64x2.ge', i32x4: 'i32x4.ge_s' },
  '==': { f32x4: 'f32x4.eq', f64x2: 'f64x2.eq', i32x4: 'i32x4.eq' },
  '!=': { f32x4: 'f32x4.ne', f64x2: 'f64x2.ne', i32x4: 'i32x4.ne' },
};
export const EXTRACT: Record<VectorTy, Op> = { f32x4: 'f32x4.extract_lane', f64x2: 'f64x2.extract_lane', i32x4: 'i32x4.extract_lane' };
/** the language's functions WebAssembly has no instruction for: the host's Math functions, imported
 * as (f64) → f64 (pow: two arguments), which V8 calls without leaving WebAssembly's calling convention */
export const IMPORTED: Partial<Record<Intrinsic, string>> = {
  exp: 'Math.exp', log: 'Math.log', sin: 'Math.sin', cos: 'Math.cos', tanh: 'Math.tanh', pow: 'Math.pow', log1p: 'Math.log1p', expm1: 'Math.expm1',
  // the same functions the JavaScript printer calls, so both targets give the same bits
  round: 'Math.round', sign: 'Math.sign', tan: 'Math.tan', atan: 'Math.atan', atan2: 'Math.atan2', asin: 'Math.asin', acos: 'Math.acos',
  sinh: 'Math.sinh', cosh: 'Math.cosh', asinh: 'Math.asinh', acosh: 'Math.acosh', atanh: 'Math.atanh', log2: 'Math.log2', log10: 'Math.log10', cbrt: 'Math.cbrt',
};
export const NEG: ByTy = { f32: 'f32.neg', f64: 'f64.neg', f32x4: 'f32x4.neg', f64x2: 'f64x2.neg', i32x4: 'i32x4.neg' };
export const FLOOR: ByTy = { f32: 'f32.floor', f64: 'f64.floor', f32x4: 'f32x4.floor', f64x2: 'f64x2.floor' };
export const CEIL: ByTy = { f32: 'f32.ceil', f64: 'f64.ceil', f32x4: 'f32x4.ceil', f64x2: 'f64x2.ceil' };
export const INTRINSIC: Partial<Record<Intrinsic, ByTy>> = {
  sqrt: { f32: 'f32.sqrt', f64: 'f64.sqrt', f32x4: 'f32x4.sqrt', f64x2: 'f64x2.sqrt' },
  abs: { f32: 'f32.abs', f64: 'f64.abs', f32x4: 'f32x4.abs', f64x2: 'f64x2.abs' },
};
/** from>to: bool → number is 0/1; float → i32 truncates toward 0, saturating (NaN → 0) instead of trapping */
export const CAST: Record<string, readonly Op[]> = {
  'bool>i32': [],
  'bool>f32': ['f32.convert_i32_u'],
  'bool>f64': ['f64.convert_i32_u'],
  'i32>f32': ['f32.convert_i32_s'],
  'i32>f64': ['f64.convert_i32_s'],
  'f32>i32': ['i32.trunc_sat_f32_s'],
  'f64>i32': ['i32.trunc_sat_f64_s'],
  'f32>f64': ['f64.promote_f32'],
  'f64>f32': ['f32.demote_f64'],
  'i32x4>f32x4': ['f32x4.convert_i32x4_s'],
  'f32x4>i32x4': ['i32x4.trunc_sat_f32x4_s'],
};
export const LOAD: ByTy = { i32: 'i32.load', bool: 'i32.load8_u', f32: 'f32.load', f64: 'f64.load', f32x4: 'v128.load', f64x2: 'v128.load', i32x4: 'v128.load' };
export const STORE: ByTy = { i32: 'i32.store', bool: 'i32.store8', f32: 'f32.store', f64: 'f64.store', f32x4: 'v128.store', f64x2: 'v128.store', i32x4: 'v128.store' };
export const SPLAT: Record<VectorTy, Op> = { f32x4: 'f32x4.splat', f64x2: 'f64x2.splat', i32x4: 'i32x4.splat' };
/** a lane read straight from memory into every lane */
export const LOAD_SPLAT: Record<VectorTy, Op> = { f32x4: 'v128.load32_splat', f64x2: 'v128.load64_splat', i32x4: 'v128.load32_splat' };

/** Rewrites of two adjacent instructions, each keeping what the pair leaves on the stack. */
const PEEPHOLE: readonly { name: string; match: (a: Instr, b: Instr) => boolean; rewrite: (a: Instr, b: Instr) => Instr[] }[] = [
  // local.set x; local.get x → local.tee x
  { name: 'tee', match: (a, b) => a[0] === 'local.set' && b[0] === 'local.get' && a[1] === b[1], rewrite: (a) => [['local.tee', a[1]!]] },
  // i32.const 0; i32.eq → i32.eqz
  { name: 'eqz', match: (a, b) => a[0] === 'i32.const' && a[1] === 0 && b[0] === 'i32.eq', rewrite: () => [['i32.eqz']] },
  // i32.const 2^s; i32.mul → i32.const s; i32.shl (x·2^s = x << s, wrapping alike)
  {
    name: 'shl',
    match: (a, b) => a[0] === 'i32.const' && b[0] === 'i32.mul' && Number(a[1]) > 1 && Number.isInteger(Math.log2(Number(a[1]))),
    rewrite: (a) => [['i32.const', Math.log2(Number(a[1]))], ['i32.shl']],
  },
];

export function peephole(body: readonly Instr[]): Instr[] {
  const out: Instr[] = [];
  for (const next of body) {
    const last = out[out.length - 1];
    const rule = last && PEEPHOLE.find((r) => r.match(last, next));
    if (rule) out.splice(out.length - 1, 1, ...rule.rewrite(last, next));
    else out.push(next);
  }
  return out;
}
