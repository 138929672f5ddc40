// collectPowers: a product or quotient whose factors are powers of one base, or fractions, written
// the way a textbook writes it — the exponents added, the numbers multiplied out.
//
// Worked example (layer norm's dvar, from the rules for 1/x and √x):
//   -(X[n,d] - mu[n])*1/2*g[d]*dY[n,d]/sqrt(var[n] + 0.00001)/sqrt(var[n] + 0.00001)^2
// has the base v = var[n] + 0.00001 as v^(-1/2) and v^(-1), and the numbers -1 and 1/2:
//   -(X[n,d] - mu[n])*g[d]*dY[n,d]*(var[n] + 0.00001)^(-3/2)/2
// Only what combines changes: two factors of one base where an exponent is a fraction (√v) or the
// base is both above and below the line, or two numbers where one is a fraction. So x*x stays x*x
// (the kernels multiply it) and a lone /2 stays /2.
import { call, div, exprKey, mul, num, pow } from '../ir/exprs.js';
import type { Expr } from '../ir/types.js';

/** A rational number p/q, q > 0, in lowest terms. */
interface Ratio {
  readonly p: number;
  readonly q: number;
}
const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));
function ratio(p: number, q: number): Ratio {
  const g = gcd(p, q) || 1;
  const s = q < 0 ? -1 : 1;
  return { p: (s * p) / g, q: (s * q) / g };
}
const times = (a: Ratio, b: Ratio) => ratio(a.p * b.p, a.q * b.q);
const plus = (a: Ratio, b: Ratio) => ratio(a.p * b.q + b.p * a.q, a.q * b.q);
const small = (v: number) => Number.isInteger(v) && Math.abs(v) < 2 ** 26;

/** A whole number or a quotient of two: 2, 1/2, -3/2. */
function rational(e: Expr): Ratio | undefined {
  if (e.kind === 'num') return small(e.value) ? ratio(e.value, 1) : undefined;
  if (e.kind === 'neg') {
    const r = rational(e.arg);
    return r && ratio(-r.p, r.q);
  }
  if (e.kind === 'div' && e.num.kind === 'num' && e.den.kind === 'num' && small(e.num.value) && small(e.den.value) && e.den.value !== 0) return ratio(e.num.value, e.den.value);
  return undefined;
}

const ratioExpr = (r: Ratio): Expr => (r.q === 1 ? num(r.p) : div(num(r.p), num(r.q)));

interface Power {
  readonly base: Expr;
  exp: Ratio;
  /** a fractional exponent, or the base on both sides of the line */
  mixed: boolean;
}

/** The numbers, powers and other factors of a product or quotient. */
function flatten(e: Expr, sign: 1 | -1, coef: { r: Ratio; numbers: number; fraction: boolean }, powers: Map<string, Power>): void {
  const r = rational(e);
  if (r) {
    coef.r = times(coef.r, sign > 0 ? r : ratio(r.q, r.p));
    coef.numbers++;
    if (r.q !== 1 || sign < 0) coef.fraction = true;
    return;
  }
  if (e.kind === 'mul') return e.factors.forEach((f) => flatten(f, sign, coef, powers));
  if (e.kind === 'neg') {
    coef.r = times(coef.r, ratio(-1, 1));
    return flatten(e.arg, sign, coef, powers);
  }
  if (e.kind === 'div') {
    flatten(e.num, sign, coef, powers);
    return flatten(e.den, sign > 0 ? -1 : 1, coef, powers);
  }
  let base: Expr = e;
  let exp: Ratio = ratio(1, 1);
  if (e.kind === 'call' && e.fn === 'sqrt') [base, exp] = [e.args[0]!, ratio(1, 2)];
  else if (e.kind === 'pow') {
    const k = rational(e.exp);
    if (k) {
      const inner = e.base.kind === 'call' && e.base.fn === 'sqrt' ? e.base.args[0]! : undefined;
      [base, exp] = inner ? [inner, times(k, ratio(1, 2))] : [e.base, k];
    }
  }
  const signed = sign > 0 ? exp : ratio(-exp.p, exp.q);
  const key = exprKey(base);
  const had = powers.get(key);
  if (!had) powers.set(key, { base, exp: signed, mixed: false });
  else {
    had.mixed ||= signed.q !== 1 || had.exp.q !== 1 || Math.sign(signed.p) !== Math.sign(had.exp.p);
    had.exp = plus(had.exp, signed);
  }
}

/** The product or quotient with its powers collected, or undefined when nothing combines. */
export function collectPowers(e: Expr): Expr | undefined {
  if (e.kind !== 'mul' && e.kind !== 'div') return undefined;
  const coef = { r: ratio(1, 1), numbers: 0, fraction: false };
  const powers = new Map<string, Power>();
  flatten(e, 1, coef, powers);
  const numbers = coef.numbers >= 2 && coef.fraction;
  if (!numbers && ![...powers.values()].some((x) => x.mixed)) return undefined;
  const top: Expr[] = [num(coef.r.p)];
  const bottom: Expr[] = [num(coef.r.q)];
  for (const { base, exp } of powers.values()) {
    if (exp.p === 0) continue;
    if (exp.q === 1 && exp.p > 0) top.push(exp.p === 1 ? base : pow(base, num(exp.p)));
    else if (exp.q === 1) bottom.push(exp.p === -1 ? base : pow(base, num(-exp.p)));
    else if (exp.p === 1 && exp.q === 2) top.push(call('sqrt', [base]));
    else if (exp.p === -1 && exp.q === 2) bottom.push(call('sqrt', [base]));
    else top.push(pow(base, ratioExpr(exp)));
  }
  const out = div(mul(top), mul(bottom));
  return exprKey(out) === exprKey(e) ? undefined : out;
}
