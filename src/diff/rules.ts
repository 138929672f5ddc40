// Derivative rules for the built-in scalar functions, as data: one partial derivative per argument.
//
// Worked example: RULES.sqrt[0]([x]) is 1/2/sqrt(x), produced by mathjs `derivative('sqrt(x)', 'x')`
// (stored by `npm run rules` in scalarDerivatives.ts, checked against mathjs by a test). Rules for functions mathjs does not know (relu, sigmoid,
// elu, where, max, min …) are written out, each in the form the seeds use, e.g. σ' = σ(x)(1−σ(x)):
// the differentiator later replaces σ(x) by the forward value Y, giving the seed's Y⊙(1−Y).
import { parse, type Ast } from '../ir/parse.js';
import { add, call, compare, div, mul, neg, num, ONE, pow, sub, ZERO } from '../ir/exprs.js';
import type { Builtin, Expr } from '../ir/types.js';
import { SCALAR_DERIVATIVES } from './scalarDerivatives.js';

export type PartialRule = (args: readonly Expr[]) => Expr;

/** A mathjs formula (our syntax is a superset of what mathjs prints) as IR, its symbols bound to arguments. */
function fromFormula(a: Ast, vars: Readonly<Record<string, Expr>>): Expr {
  switch (a.k) {
    case 'num':
      return num(a.value);
    case 'name': {
      const v = vars[a.name];
      if (!v) throw new Error(`internal: derivative symbol ${a.name} is not bound`);
      return v;
    }
    case 'unary':
      return neg(fromFormula(a.arg, vars));
    case 'binary': {
      const x = fromFormula(a.a, vars);
      const y = fromFormula(a.b, vars);
      if (a.op === '+') return add([x, y]);
      if (a.op === '-') return sub(x, y);
      if (a.op === '*') return mul([x, y]);
      if (a.op === '/') return div(x, y);
      if (a.op === '^') return pow(x, y);
      throw new Error(`internal: operator ${a.op} in a derivative formula`);
    }
    case 'call':
      return call(a.name as Builtin, a.args.map((x) => fromFormula(x, vars)));
    default:
      throw new Error(`internal: ${a.k} in a derivative formula`);
  }
}

/** ∂f/∂(parameter k), from the table mathjs produced (see scripts/generateRules.ts). */
function viaMathjs(fn: keyof typeof SCALAR_DERIVATIVES, k: number): PartialRule {
  const rule = SCALAR_DERIVATIVES[fn];
  const line = parse(`d = ${rule.partials[k]}`)[0]!;
  if (line.k !== 'assign') throw new Error('internal: bad derivative formula');
  return (args) => fromFormula(line.rhs, Object.fromEntries(rule.params.map((p, i) => [p, args[i]!])));
}

const unary = (fn: keyof typeof SCALAR_DERIVATIVES) => [viaMathjs(fn, 0)];

export const RULES: Record<Builtin, readonly PartialRule[]> = {
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  sin: unary('sin'),
  cos: unary('cos'),
  pow: [viaMathjs('pow', 0), viaMathjs('pow', 1)],
  // relu'(x) = 1[relu(x) > 0]; written through relu(x) so it becomes the seed's mask (Y > 0)
  relu: [([x]) => compare('>', call('relu', [x!]), ZERO)],
  // σ' = σ(1 − σ)
  sigmoid: [([x]) => mul([call('sigmoid', [x!]), sub(ONE, call('sigmoid', [x!]))])],
  // tanh' = 1 − tanh²  (mathjs would say sech², which is not in the language)
  tanh: [([x]) => sub(ONE, pow(call('tanh', [x!]), num(2)))],
  // softplus' = σ
  softplus: [([x]) => call('sigmoid', [x!])],
  // elu' = 1 where elu > 0, else elu + a;  ∂elu/∂a = (x ≤ 0)(eˣ − 1)
  elu: [
    ([x, a]) => call('where', [compare('>', call('elu', [x!, a!]), ZERO), ONE, add([call('elu', [x!, a!]), a!])]),
    ([x]) => mul([compare('<=', x!, ZERO), sub(call('exp', [x!]), ONE)]),
  ],
  // |x|' = sign(x), 0 at 0 (mathjs's abs(x)/x would be NaN there)
  abs: [([x]) => sub(compare('>', x!, ZERO), compare('<', x!, ZERO))],
  // ties go to the first argument, like the first arg-max of a reduction
  max: [([a, b]) => compare('>=', a!, b!), ([a, b]) => compare('<', a!, b!)],
  min: [([a, b]) => compare('<=', a!, b!), ([a, b]) => compare('>', a!, b!)],
  where: [() => ZERO, ([c]) => compare('!=', c!, ZERO), ([c]) => compare('==', c!, ZERO)],
};

/** ∂(a^b)/∂a and ∂(a^b)/∂b for the `^` operator: the same rules as pow. */
export const POW_RULES = RULES.pow;
