// wgslLanguage: how WGSL spells the loop IR's expressions — the table for the shared C-style printer
// (cstyle.ts), and the helper functions the table calls.
//
// Worked example: floordiv(i, T) prints `dg_floordiv(i, T)` (WGSL's `/` truncates) — `i / T` where
// both are known ≥ 0 (a loop index from 0, a size) —, select(p, x, 0)
// prints `select(0f, x, p)`, cast(f32, a < b) prints `f32(a < b)`, −∞ prints `-dg_inf()` (WGSL has
// no literal for it), and a < b && c < d || e prints `((a < b) && (c < d)) || e` (WGSL does not mix
// `&&` and `||`, or chain comparisons, without parentheses). The language's functions keep the
// language's rules: relu(NaN) = 0, max ties go to the first argument, tanh(±large) = ±1, pow of a
// negative base and a whole exponent as in JavaScript.
import type { Intrinsic, LExpr, Ty } from '../../loop/types.js';
import { atom, callOf, PREC, wrap, type CLanguage, type Printed } from '../cstyle.js';

/** The shortest decimal that is the same float32, with WGSL's `f` suffix. */
export function f32Literal(x: number): string {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return `${s}f`;
  }
  return `${f}f`;
}

function constant(value: number, ty: Ty): Printed {
  if (ty === 'bool') return atom(value ? 'true' : 'false');
  if (ty === 'i32') return { text: String(value), prec: value < 0 ? PREC.unary : PREC.atom };
  if (ty !== 'f32') throw new Error(`internal: WGSL has no ${ty} constant`);
  const f = Math.fround(value);
  if (Number.isNaN(f)) return atom('dg_nan()');
  if (f === Infinity) return atom('dg_inf()');
  if (f === -Infinity) return { text: '-dg_inf()', prec: PREC.unary };
  const text = f32Literal(value);
  return { text, prec: text.startsWith('-') ? PREC.unary : PREC.atom };
}

/** A comparison's or a logical operator's operand: parenthesized unless it is arithmetic or tighter. */
const strict = (p: Printed) => (p.prec < PREC.add ? `(${p.text})` : p.text);
const logical = (op: string, prec: number) => (a: Printed, b: Printed): Printed => ({ text: `${strict(a)} ${op} ${strict(b)}`, prec });
const relation = (op: string) => logical(op, PREC.rel);

const BUILTIN: Partial<Record<Intrinsic, string>> = { exp: 'exp', log: 'log', sqrt: 'sqrt', abs: 'abs' };

/** `/` and `%` of operands known ≥ 0 (for which truncating is flooring): the index arithmetic of
 * the grids and tiles, mostly, kept short for the compilers that JIT the shader. */
const quotient = (a: Printed, b: Printed): Printed => ({ text: `${wrap(a, PREC.mul)} / ${wrap(b, PREC.mul + 1)}`, prec: PREC.mul });

/** The table, given what is known to be ≥ 0 in the kernel at hand. */
export const wgslLanguage = (nonNegative: (e: LExpr) => boolean): CLanguage => ({
  infix: { rem: { text: '%', prec: PREC.mul } },
  binary: {
    floordiv: (a, b, e) => (nonNegative(e.a) && nonNegative(e.b) ? quotient(a, b) : callOf('dg_floordiv', [a, b])),
    // ⌈a/b⌉ = ⌊(a + b − 1)/b⌋ for a ≥ 0 and a constant b ≥ 1
    ceildiv: (a, b, e) => (nonNegative(e.a) && e.b.kind === 'const' && e.b.value >= 1 ? quotient({ text: `${a.text} + ${e.b.value - 1}`, prec: PREC.add }, b) : callOf('dg_ceildiv', [a, b])),
    mod: (a, b, e) => (nonNegative(e.a) && nonNegative(e.b) ? { text: `${wrap(a, PREC.mul)} % ${wrap(b, PREC.mul + 1)}`, prec: PREC.mul } : callOf('dg_mod', [a, b])),
    min: (a, b) => callOf('min', [a, b]),
    max: (a, b) => callOf('max', [a, b]),
    '<': relation('<'),
    '<=': relation('<='),
    '>': relation('>'),
    '>=': relation('>='),
    '==': relation('=='),
    '!=': relation('!='),
    '&&': logical('&&', PREC.and),
    '||': logical('||', PREC.or),
  },
  constant,
  cast: (a, to, from) => {
    if (to === 'f64' || from === 'f64') throw new Error('internal: WGSL has no f64');
    return callOf(to === 'bool' ? 'bool' : to, [a]);
  },
  select: (cond, then, otherwise) => callOf('select', [otherwise, then, cond]),
  load: (buf, index) => atom(`${buf}[${index.text}]`),
  call: (fn, args) => {
    const name = BUILTIN[fn] ?? `dg_${fn}`;
    // a function with neither a WGSL builtin nor a helper here (cbrt, erf, …): said, not a shader that fails to compile
    if (!BUILTIN[fn] && !WGSL_HELPERS[name]) throw new Error(`the WebGPU target has no ${fn} yet: compile this program without { target: 'webgpu' }`);
    return callOf(name, args);
  },
  length: (buf) => atom(`i32(arrayLength(&${buf}))`),
  floor: (a) => callOf('floor', [a]),
  ceil: (a) => callOf('ceil', [a]),
});

/** The helper functions, by name; a helper's text may call others (listed in `uses`). */
export const WGSL_HELPERS: Record<string, { text: string; uses?: readonly string[] }> = {
  // integer division rounding down and up, and the floor modulo: WGSL's `/` and `%` truncate
  dg_floordiv: { text: 'fn dg_floordiv(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0))); }' },
  dg_ceildiv: { text: 'fn dg_ceildiv(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q + 1, (a % b != 0) && ((a < 0) == (b < 0))); }' },
  dg_mod: { text: 'fn dg_mod(a: i32, b: i32) -> i32 { let r = a % b; return select(r, r + b, (r != 0) && ((r < 0) != (b < 0))); }' },
  // ∞ and NaN have no literal, and a constant expression may not be one: read the bits from a variable
  dg_inf: { text: 'var<private> dg_inf_bits: u32 = 0x7f800000u;\nfn dg_inf() -> f32 { return bitcast<f32>(dg_inf_bits); }' },
  dg_nan: { text: 'var<private> dg_nan_bits: u32 = 0x7fc00000u;\nfn dg_nan() -> f32 { return bitcast<f32>(dg_nan_bits); }' },
  // WGSL promises sin and cos only to an absolute 2⁻¹¹ on [−π, π] (SwiftShader's sin(3) is off by
  // 1e-4 relative): Cody–Waite reduction by π/2 in three parts, then Cephes' sinf/cosf polynomials
  // on [−π/4, π/4] (an ulp or two); NaN, ±∞ and |x| ≥ 8192 go to the built-ins
  dg_sincos: {
    text: [
      'fn dg_sincos(x: f32, shift: i32) -> f32 {',
      '  if (!(abs(x) < 8192f)) { return select(cos(x), sin(x), shift == 0); }',
      '  let q = round(x * 0.63661975f);',
      '  let r = ((x - q * 1.5703125f) - q * 0.0004837513f) - q * 7.54979e-8f;',
      '  let z = r * r;',
      '  let s = ((-0.00019515296f * z + 0.008332161f) * z - 0.16666655f) * z * r + r;',
      '  let c = ((0.000024433157f * z - 0.0013887316f) * z + 0.041666646f) * z * z - 0.5f * z + 1f;',
      '  let n = (i32(q) + shift) & 3;',
      '  let v = select(c, s, (n & 1) == 0);',
      '  return select(v, -v, n >= 2);',
      '}',
    ].join('\n'),
  },
  dg_sin: { text: 'fn dg_sin(x: f32) -> f32 { return dg_sincos(x, 0); }', uses: ['dg_sincos'] },
  dg_cos: { text: 'fn dg_cos(x: f32) -> f32 { return dg_sincos(x, 1); }', uses: ['dg_sincos'] },
  dg_relu: { text: 'fn dg_relu(x: f32) -> f32 { return select(0f, x, x > 0f); }' },
  dg_sigmoid: { text: 'fn dg_sigmoid(x: f32) -> f32 { return 1f / (1f + exp(-x)); }' },
  // exp of a large argument is ∞, and ∞/∞ is NaN: tanh from e^(−2|x|), which stays in [0, 1]
  dg_tanh: { text: 'fn dg_tanh(x: f32) -> f32 { let e = exp(-2f * abs(x)); let t = (1f - e) / (1f + e); return select(t, -t, x < 0f); }' },
  // log(1 + x) and e^x − 1 without the cancellation near 0 (Kahan's corrections)
  dg_log1p: { text: 'fn dg_log1p(x: f32) -> f32 { let u = 1f + x; if (u == 1f) { return x; } let l = log(u); if (abs(x) > 1e6f) { return l; } return l * x / (u - 1f); }' },
  dg_expm1: { text: 'fn dg_expm1(x: f32) -> f32 { let u = exp(x); if (u == 1f) { return x; } if (x > 80f) { return u; } let m = u - 1f; if (m == -1f) { return -1f; } return m * x / log(u); }' },
  dg_softplus: { text: 'fn dg_softplus(x: f32) -> f32 { if (x > 0f) { return x + dg_log1p(exp(-x)); } return dg_log1p(exp(x)); }', uses: ['dg_log1p'] },
  dg_elu: { text: 'fn dg_elu(x: f32, a: f32) -> f32 { if (x > 0f) { return x; } return a * dg_expm1(x); }', uses: ['dg_expm1'] },
  // ties go to the first argument; NaN loses to a number
  dg_fmax: { text: 'fn dg_fmax(a: f32, b: f32) -> f32 { return select(b, a, a >= b); }' },
  dg_fmin: { text: 'fn dg_fmin(a: f32, b: f32) -> f32 { return select(b, a, a <= b); }' },
  // WGSL's pow is exp2(y·log2(x)): NaN for x < 0 and for 0⁰; JavaScript's for a whole y keeps the sign
  dg_pow: {
    text: [
      'fn dg_pow(x: f32, y: f32) -> f32 {',
      '  if (y == 0f) { return 1f; }',
      '  if (x == 0f) { return select(dg_inf(), 0f, y > 0f); }',
      '  if (x < 0f && y == floor(y)) { let r = pow(-x, y); return select(r, -r, fract(y * 0.5f) != 0f); }',
      '  return pow(x, y);',
      '}',
    ].join('\n'),
    uses: ['dg_inf'],
  },
};
