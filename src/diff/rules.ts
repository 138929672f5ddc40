// Derivative rules for the built-in scalar functions, as data: one partial derivative per argument.
//
// Worked example: RULES.sqrt[0]([x]) is 1/2/sqrt(x), produced by mathjs `derivative('sqrt(x)', 'x')`
// and translated to IR once at load time. Rules for functions mathjs does not know (relu, sigmoid,
// elu, where, max, min …) are written out, each in the form the seeds use, e.g. σ' = σ(x)(1−σ(x)):
// the differentiator later replaces σ(x) by the forward value Y, giving the seed's Y⊙(1−Y).
import { derivative, type MathNode } from 'mathjs';
import { add, call, compare, div, mul, neg, num, ONE, pow, sub, ZERO } from '../ir/exprs.js';
import type { Builtin, Expr } from '../ir/types.js';

export type PartialRule = (args: readonly Expr[]) => Expr;

/** Translate a mathjs expression tree into IR, binding its symbols to the given arguments. */
function fromMathjs(node: MathNode, vars: Readonly<Record<string, Expr>>): Expr {
  const n = node as MathNode & { type: string };
  switch (n.type) {
    case 'ConstantNode':
      return num(Number((node as unknown as { value: number }).value));
    case 'SymbolNode': {
      const name = (node as unknown as { name: string }).name;
      const v = vars[name];
      if (!v) throw new Error(`internal: mathjs symbol ${name} is not bound`);
      return v;
    }
    case 'ParenthesisNode':
      return fromMathjs((node as unknown as { content: MathNode }).content, vars);
    case 'OperatorNode': {
      const op = node as unknown as { fn: string; args: MathNode[] };
      const a = op.args.map((x) => fromMathjs(x, vars));
      switch (op.fn) {
        case 'unaryMinus':
          return neg(a[0]!);
        case 'unaryPlus':
          return a[0]!;
        case 'add':
          return add(a);
        case 'subtract':
          return sub(a[0]!, a[1]!);
        case 'multiply':
          return mul(a);
        case 'divide':
          return div(a[0]!, a[1]!);
        case 'pow':
          return pow(a[0]!, a[1]!);
        default:
          throw new Error(`internal: mathjs operator ${op.fn} has no IR form`);
      }
    }
    case 'FunctionNode': {
      const f = node as unknown as { fn: { name: string }; args: MathNode[] };
      const a = f.args.map((x) => fromMathjs(x, vars));
      const name = f.fn.name;
      if (['exp', 'log', 'sqrt', 'sin', 'cos', 'tanh'].includes(name)) return call(name as Builtin, a);
      throw new Error(`internal: mathjs function ${name} has no IR form`);
    }
    default:
      throw new Error(`internal: mathjs node ${n.type} has no IR form`);
  }
}

/** ∂formula/∂wrt as a rule, computed by mathjs once. */
function viaMathjs(formula: string, params: readonly string[], wrt: string): PartialRule {
  const d = derivative(formula, wrt);
  return (args) => fromMathjs(d, Object.fromEntries(params.map((p, i) => [p, args[i]!])));
}

const unary = (formula: string) => [viaMathjs(formula, ['x'], 'x')];

export const RULES: Record<Builtin, readonly PartialRule[]> = {
  exp: unary('exp(x)'),
  log: unary('log(x)'),
  sqrt: unary('sqrt(x)'),
  sin: unary('sin(x)'),
  cos: unary('cos(x)'),
  pow: [viaMathjs('x^p', ['x', 'p'], 'x'), viaMathjs('x^p', ['x', 'p'], 'p')],
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
