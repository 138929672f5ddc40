// print: IR → language text (the index form), which re-parses to the same meaning.
//
// Worked example: reduce(sum; i) mul[A[i,k], dY[i,j]] assigned to dX[k,j] prints as
//   dX[k,j] = sum(i) A[i,k]*dY[i,j]
// A reduction extends over the rest of its product, so one that is not the last factor is
// parenthesised: mul[sum(i) a[i], b] prints as (sum(i) a[i])*b.
import { idxAsVar, idxMod, printIndex } from './affine.js';
import { polyConstValue, polyIsPositive, printPoly, printSize, sizePoly } from './sizes.js';
import { assertNever, type Atom, type Bound, type Expr, type IndexExpr, type Poly, type SizeExpr, type Statement } from './types.js';
import { add, div, freeIndices, mul, neg, num } from './exprs.js';

const PREC = { compare: 1, add: 2, mul: 3, neg: 4, pow: 5, atom: 6 } as const;

/** A number as the language reads it back. ±∞ and NaN have no literal, and `Infinity` would read as
 *  an input of that name: they are written as expressions with their value, (1/0), (-1/0) and
 *  sqrt(-1) (a quotient by 0 is kept, not folded, and 0/0 is 0 in the language, so NaN is not 0/0). */
export function formatNumber(v: number): string {
  if (v === Infinity) return '(1/0)';
  if (v === -Infinity) return '(-1/0)';
  if (Number.isNaN(v)) return 'sqrt(-1)';
  return String(v);
}

/** The tensor T when a matrix function's matrix is all of T, so it prints as det(T), inv(T)[i,j]. */
export function wholeMatrix(e: Extract<Expr, { kind: 'matfn' }>): string | undefined {
  const b = e.body;
  if (!e.of || b.kind !== 'access' || b.tensor !== e.of || b.subs.length !== 2) return undefined;
  return b.subs.every((s, k) => idxAsVar(s) === e.indices[k]!.name) ? e.of : undefined;
}

function endsWithReduction(e: Expr): boolean {
  switch (e.kind) {
    case 'reduce':
    case 'argmax':
      return true;
    case 'matfn':
      return wholeMatrix(e) === undefined;
    case 'mul':
      return endsWithReduction(e.factors[e.factors.length - 1]!);
    case 'div':
      return endsWithReduction(e.den);
    case 'neg':
      return endsWithReduction(e.arg);
    default:
      return false;
  }
}

/** Does the body read `name` alone as a subscript somewhere, so that its range can be inferred again? */
function plainlyUsed(name: string, e: Expr): boolean {
  switch (e.kind) {
    case 'access':
      return e.subs.some((s) => idxAsVar(s) === name);
    case 'num':
    case 'sizeval':
    case 'index':
    case 'delta':
      return false;
    case 'add':
      return e.terms.some((t) => plainlyUsed(name, t));
    case 'mul':
      return e.factors.some((t) => plainlyUsed(name, t));
    case 'div':
      return plainlyUsed(name, e.num) || plainlyUsed(name, e.den);
    case 'pow':
      return plainlyUsed(name, e.base) || plainlyUsed(name, e.exp);
    case 'neg':
      return plainlyUsed(name, e.arg);
    case 'compare':
      return plainlyUsed(name, e.a) || plainlyUsed(name, e.b);
    case 'call':
      return e.args.some((t) => plainlyUsed(name, t));
    case 'reduce':
    case 'argmax':
    case 'matfn':
      // a nested reduction that binds the same name again hides it
      return !e.indices.some((b) => b.name === name) && plainlyUsed(name, e.body);
    default:
      return assertNever(e);
  }
}

function heads(bounds: readonly Bound[], body: Expr): string {
  return bounds.map((b) => (plainlyUsed(b.name, body) ? b.name : `${b.name}:${printSize(b.extent)}`)).join(',');
}

/** A size as a value. In a size `/` is floor division, but between values it divides exactly, so
 *  ⌊n/d⌋ is written (n - n%d)/d: `(A+3)/2` reads 2.5 as a value, `(A+3 - (A+3)%2)/2` reads 2. */
function sizeValueText(s: SizeExpr): string {
  switch (s.kind) {
    case 'poly':
      return printPoly(s.poly);
    case 'sum': {
      let out = '';
      for (const t of s.terms) {
        const txt = sizeValueText(t);
        out += out === '' || txt.startsWith('-') ? txt : `+${txt}`;
      }
      return out;
    }
    case 'div': {
      const d = printSize(s.den);
      // `%` needs a divisor known to be positive; otherwise the quotient is printed as it is
      if (s.den.kind !== 'poly' || !polyIsPositive(s.den.poly)) return printSize(s);
      const n = `(${sizeValueText(s.num)})`;
      const by = /^\w+$/.test(d) ? d : `(${d})`;
      return `(${n} - ${n}%${by})/${by}`;
    }
    default:
      return assertNever(s);
  }
}

/** An index value holding a floor quotient ⌊e/s⌋. Between values `/` divides exactly (`(n+1)/B` in a
 *  mean's gradient), so the quotient is written (e - e%s)/s, which re-parses to the same number:
 *  the guard ⌊h/2⌋ == c prints as (h - h%2)/2 == c. */
function floorAsValue(e: IndexExpr): Expr | undefined {
  const quotients = e.terms.filter((t) => t.atom.kind === 'div');
  if (quotients.length === 0) return undefined;
  const poly = (p: Poly): Expr => {
    const v = polyConstValue(p);
    return v !== undefined ? num(v) : { kind: 'sizeval', size: sizePoly(p) };
  };
  const rest: IndexExpr = { terms: e.terms.filter((t) => t.atom.kind !== 'div'), constant: e.constant };
  const parts: Expr[] = rest.terms.length || rest.constant.size ? [{ kind: 'index', expr: rest }] : [];
  for (const t of quotients) {
    const q = t.atom as Extract<Atom, { kind: 'div' }>;
    const exact = add([{ kind: 'index', expr: q.of }, neg({ kind: 'index', expr: idxMod(q.of, q.by) })]);
    parts.push(mul([poly(t.coef), div(exact, poly(q.by))]));
  }
  return add(parts);
}

export function printExpr(e: Expr, ctx = 0): string {
  const wrap = (p: number, s: string) => (p < ctx ? `(${s})` : s);
  switch (e.kind) {
    case 'num': {
      const s = formatNumber(e.value);
      return e.value < 0 && Number.isFinite(e.value) ? wrap(PREC.neg, s) : s;
    }
    case 'sizeval': {
      const s = sizeValueText(e.size);
      return /^[\w]+$/.test(s) ? s : wrap(PREC.add, s);
    }
    case 'index': {
      const exact = floorAsValue(e.expr);
      if (exact) return printExpr(exact, ctx);
      const s = printIndex(e.expr);
      // a floor quotient or remainder binds like a product: x*(j%2) must not read as (x*j)%2
      return /^[\w]+$/.test(s) ? s : wrap(s.includes('+') || s.slice(1).includes('-') || /[/%]/.test(s) ? PREC.add : PREC.mul, s);
    }
    case 'access':
      return e.subs.length ? `${e.tensor}[${e.subs.map(printIndex).join(',')}]` : e.tensor;
    case 'delta':
      return `δ(${printIndex(e.a)},${printIndex(e.b)})`;
    case 'add': {
      let out = '';
      e.terms.forEach((t, i) => {
        if (i === 0) out += printExpr(t, PREC.add);
        else if (t.kind === 'neg') out += ` - ${printExpr(t.arg, t.arg.kind === 'reduce' ? PREC.add : PREC.mul)}`;
        else if (t.kind === 'num' && t.value < 0) out += ` - ${formatNumber(-t.value)}`;
        else if (t.kind === 'mul' && t.factors[0]?.kind === 'num' && t.factors[0].value < 0)
          out += ` - ${printExpr({ kind: 'mul', factors: [{ kind: 'num', value: -t.factors[0].value }, ...t.factors.slice(1)] }, PREC.mul)}`;
        else out += ` + ${printExpr(t, PREC.add)}`;
      });
      return wrap(PREC.add, out);
    }
    case 'mul': {
      const parts = e.factors.map((f, i) => {
        const last = i === e.factors.length - 1;
        if (!last && endsWithReduction(f)) return `(${printExpr(f, 0)})`;
        if (i > 0 && f.kind === 'num' && f.value < 0) return `(${printExpr(f, 0)})`;
        return printExpr(f, PREC.mul);
      });
      return wrap(PREC.mul, parts.join('*'));
    }
    case 'div': {
      const n = endsWithReduction(e.num) ? `(${printExpr(e.num, 0)})` : printExpr(e.num, PREC.mul);
      return wrap(PREC.mul, `${n}/${printExpr(e.den, PREC.neg)}`);
    }
    case 'pow': {
      const b = printExpr(e.base, PREC.atom);
      // an exponent is a unary minus of a power at most: a^-(x*y), since a^-x*y reads (a^-x)*y
      const x = e.exp.kind === 'neg' ? `-${printExpr(e.exp.arg, PREC.pow)}` : printExpr(e.exp, PREC.neg);
      return wrap(PREC.pow, `${b}^${x}`);
    }
    case 'neg':
      return wrap(PREC.neg, `-${printExpr(e.arg, PREC.mul)}`);
    case 'compare':
      return wrap(PREC.compare, `${printExpr(e.a, PREC.add)} ${e.op} ${printExpr(e.b, PREC.add)}`);
    case 'call':
      return `${e.fn}(${e.args.map((a) => printExpr(a, 0)).join(', ')})`;
    case 'reduce': {
      const text = printExpr(e.body, PREC.mul);
      // `max(q) -X[q]` would read as the call max(q) minus X[q]
      const body = (e.op === 'max' || e.op === 'min') && text.startsWith('-') ? `(${text})` : text;
      return wrap(PREC.add, `${e.op}(${heads(e.indices, e.body)}) ${body}`);
    }
    case 'argmax': {
      const body = printExpr(e.body, PREC.mul);
      const hs = e.indices.map((b) => `${b.name}:${printSize(b.extent)}`).join(', ');
      return wrap(PREC.add, `arg${e.op}(${hs} @ ${e.at.map(printIndex).join(', ')}) ${body}`);
    }
    case 'matfn': {
      const whole = wholeMatrix(e);
      const at = e.at.length ? `[${e.at.map(printIndex).join(',')}]` : '';
      if (whole) return `${e.fn}(${whole})${at}`;
      const hs = e.indices.map((b) => `${b.name}:${printSize(b.extent)}`).join(', ');
      return wrap(PREC.add, `${e.fn}(${hs}${e.at.length ? ` @ ${e.at.map(printIndex).join(', ')}` : ''}) ${printExpr(e.body, PREC.mul)}`);
    }
    default:
      return assertNever(e);
  }
}

/** Statements already printed: derive prints each gradient for its index form and again in the
 *  program (statements are immutable, and few beside their nodes) */
const PRINTED = new WeakMap<Statement, string>();

export function printStatement(s: Statement): string {
  let text = PRINTED.get(s);
  if (text === undefined) PRINTED.set(s, (text = statementText(s)));
  return text;
}

function statementText(s: Statement): string {
  // a scatter-add names its loop indices only through its left subscripts and right side
  if (s.scatter) return `${s.tensor}[${s.scatter.at.map(printIndex).join(',')}] += ${printExpr(s.rhs)}`;
  const lhs = s.lhs.length ? `${s.tensor}[${s.lhs.map((b) => b.name).join(',')}]` : s.tensor;
  return `${lhs} = ${printExpr(s.rhs)}`;
}

export { freeIndices };
