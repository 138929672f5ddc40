// cstyle: the expression printer every C-family target shares (JavaScript, TypeScript, WGSL, C):
// infix operators with precedence-based parentheses, and a table per target for what differs —
// how floor division, min, casts, selects, loads and intrinsics are spelt (tinygrad's CStyleLanguage).
//
// Worked example (JavaScript): binary('-', a, binary('-', b, c)) prints `a - (b - c)`,
// binary('*', binary('+', a, b), c) prints `(a + b) * c`, floordiv(x, 4) prints `Math.floor(x / 4)`,
// cast(f64, lt(x, y)) prints `+(x < y)`, and select(p, x, 0) prints `p ? x : 0`.
import { assertNever, type BinaryOp, type Intrinsic, type LExpr, type Ty } from '../loop/types.js';

/** Operator precedence, C-family: higher binds tighter. */
export const PREC = { select: 2, or: 3, and: 4, eq: 8, rel: 9, add: 11, mul: 12, unary: 14, call: 17, atom: 20 } as const;

export const INFIX: Partial<Record<BinaryOp, { text: string; prec: number }>> = {
  '+': { text: '+', prec: PREC.add },
  '-': { text: '-', prec: PREC.add },
  '*': { text: '*', prec: PREC.mul },
  '/': { text: '/', prec: PREC.mul },
  '<': { text: '<', prec: PREC.rel },
  '<=': { text: '<=', prec: PREC.rel },
  '>': { text: '>', prec: PREC.rel },
  '>=': { text: '>=', prec: PREC.rel },
  '==': { text: '==', prec: PREC.eq },
  '!=': { text: '!=', prec: PREC.eq },
  '&&': { text: '&&', prec: PREC.and },
  '||': { text: '||', prec: PREC.or },
};

export interface Printed {
  readonly text: string;
  readonly prec: number;
}

/** What a target spells its own way. Each function gets its operands already printed. */
export interface CLanguage {
  /** infix spellings that differ from C's (JavaScript's `===`), and the ones a target adds (`%` for rem) */
  readonly infix: Partial<Record<BinaryOp, { text: string; prec: number }>>;
  /** operators without an infix form here: floordiv, ceildiv, mod, min, max … */
  readonly binary: Partial<Record<BinaryOp, (a: Printed, b: Printed, e: Extract<LExpr, { kind: 'binary' }>) => Printed>>;
  readonly constant: (value: number, ty: Ty) => Printed;
  readonly cast: (a: Printed, to: Ty, from: Ty) => Printed;
  readonly select: (cond: Printed, then: Printed, otherwise: Printed, ty: Ty) => Printed;
  readonly load: (buf: string, index: Printed, e: Extract<LExpr, { kind: 'load' }>) => Printed;
  readonly call: (fn: Intrinsic, args: readonly Printed[], ty: Ty) => Printed;
  readonly length: (buf: string) => Printed;
  readonly floor: (a: Printed, ty: Ty) => Printed;
  readonly ceil: (a: Printed, ty: Ty) => Printed;
}

/** The operand's text, in parentheses when it binds looser than `need`. */
export const wrap = (p: Printed, need: number): string => (p.prec < need ? `(${p.text})` : p.text);
export const atom = (text: string): Printed => ({ text, prec: PREC.atom });
export const callOf = (fn: string, args: readonly Printed[]): Printed => atom(`${fn}(${args.map((a) => a.text).join(', ')})`);

export function printExpr(e: LExpr, lang: CLanguage, name: (x: Extract<LExpr, { kind: 'var' }>['v'] | Extract<LExpr, { kind: 'load' }>['buf']) => string): Printed {
  const go = (x: LExpr): Printed => printExpr(x, lang, name);
  switch (e.kind) {
    case 'const':
      return lang.constant(e.value, e.ty);
    case 'var':
      return atom(name(e.v));
    case 'length':
      return lang.length(name(e.buf));
    case 'load':
      return lang.load(name(e.buf), go(e.index), e);
    case 'unary': {
      const a = go(e.a);
      const op = e.op;
      switch (op) {
        case 'neg':
          // `- -x` would read as a decrement in C; `-(-1)` as in JavaScript's printer
          return { text: `-${a.text.startsWith('-') ? `(${a.text})` : wrap(a, PREC.unary)}`, prec: PREC.unary };
        case 'not':
          return { text: `!${wrap(a, PREC.unary)}`, prec: PREC.unary };
        case 'cast':
          return lang.cast(a, e.ty, e.a.ty);
        case 'floor':
          return lang.floor(a, e.ty);
        case 'ceil':
          return lang.ceil(a, e.ty);
        case 'splat':
        case 'hsum':
          throw new Error(`internal: ${op} has no C-style form (WebAssembly only)`);
        default:
          return assertNever(op);
      }
    }
    case 'binary': {
      const a = go(e.a);
      const b = go(e.b);
      const special = lang.binary[e.op];
      if (special) return special(a, b, e);
      const op = lang.infix[e.op] ?? INFIX[e.op];
      if (!op) throw new Error(`internal: no spelling for ${e.op}`);
      // left-associative: the right operand of an equal precedence keeps its parentheses (a - (b - c))
      return { text: `${wrap(a, op.prec)} ${op.text} ${wrap(b, op.prec + 1)}`, prec: op.prec };
    }
    case 'select':
      return lang.select(go(e.cond), go(e.then), go(e.else), e.ty);
    case 'call':
      return lang.call(e.fn, e.args.map(go), e.ty);
    case 'claim':
      // the module's helper (target/module.ts): JavaScript only, a threaded module's kernels
      return callOf('$claim', [atom(name(e.buf)), ...e.args.map(go)]);
    default:
      return assertNever(e);
  }
}
