// renderLatex: a gradient statement in LaTeX, index form.
//
// Worked example: dX[k,j] = sum(i) A[i,k]*dY[i,j]  →
//   \mathrm{d}X_{k,j} = \sum_{i} A_{i,k} \, \mathrm{d}Y_{i,j}
// Comparisons become Iverson brackets [Y_{n,f} > 0]; floor division ⌊h/2⌋; remainders h \bmod 2.
import { polyConstValue, printPoly, printSize } from '../ir/sizes.js';
import { assertNever, type Atom, type Expr, type IndexExpr, type Statement } from '../ir/types.js';

const PREC = { compare: 1, add: 2, mul: 3, neg: 4, pow: 5, atom: 6 } as const;

const FN: Record<string, (args: string[]) => string> = {
  relu: ([x]) => `\\operatorname{relu}\\left(${x}\\right)`,
  sigmoid: ([x]) => `\\sigma\\left(${x}\\right)`,
  tanh: ([x]) => `\\tanh\\left(${x}\\right)`,
  exp: ([x]) => `e^{${x}}`,
  log: ([x]) => `\\log\\left(${x}\\right)`,
  sqrt: ([x]) => `\\sqrt{${x}}`,
  abs: ([x]) => `\\left|${x}\\right|`,
  sin: ([x]) => `\\sin\\left(${x}\\right)`,
  cos: ([x]) => `\\cos\\left(${x}\\right)`,
  softplus: ([x]) => `\\operatorname{softplus}\\left(${x}\\right)`,
  elu: ([x, a]) => `\\operatorname{elu}_{${a}}\\left(${x}\\right)`,
  max: ([a, b]) => `\\max\\left(${a}, ${b}\\right)`,
  min: ([a, b]) => `\\min\\left(${a}, ${b}\\right)`,
  pow: ([a, b]) => `{\\left(${a}\\right)}^{${b}}`,
  where: ([c, a, b]) => `\\begin{cases} ${a} & ${c} \\neq 0 \\\\ ${b} & \\text{otherwise} \\end{cases}`,
  floor: ([x]) => `\\left\\lfloor ${x} \\right\\rfloor`,
  ceil: ([x]) => `\\left\\lceil ${x} \\right\\rceil`,
  round: ([x]) => `\\operatorname{round}\\left(${x}\\right)`,
  sign: ([x]) => `\\operatorname{sign}\\left(${x}\\right)`,
  tan: ([x]) => `\\tan\\left(${x}\\right)`,
  atan: ([x]) => `\\arctan\\left(${x}\\right)`,
  atan2: ([y, x]) => `\\operatorname{atan2}\\left(${y}, ${x}\\right)`,
  asin: ([x]) => `\\arcsin\\left(${x}\\right)`,
  acos: ([x]) => `\\arccos\\left(${x}\\right)`,
  sinh: ([x]) => `\\sinh\\left(${x}\\right)`,
  cosh: ([x]) => `\\cosh\\left(${x}\\right)`,
  asinh: ([x]) => `\\operatorname{arsinh}\\left(${x}\\right)`,
  acosh: ([x]) => `\\operatorname{arcosh}\\left(${x}\\right)`,
  atanh: ([x]) => `\\operatorname{artanh}\\left(${x}\\right)`,
  erf: ([x]) => `\\operatorname{erf}\\left(${x}\\right)`,
  log2: ([x]) => `\\log_{2}\\left(${x}\\right)`,
  log10: ([x]) => `\\log_{10}\\left(${x}\\right)`,
  cbrt: ([x]) => `\\sqrt[3]{${x}}`,
  clamp: ([x, lo, hi]) => `\\operatorname{clamp}\\left(${x}, ${lo}, ${hi}\\right)`,
};

/** A number in LaTeX: ∞ as \\infty, not the word Infinity set in italics. */
export function numberLatex(v: number): string {
  if (v === Infinity) return '\\infty';
  if (v === -Infinity) return '-\\infty';
  if (Number.isNaN(v)) return '\\mathrm{NaN}';
  return String(v);
}

export function latexName(name: string): string {
  const m = /^d([A-Za-z].*)$/.exec(name);
  const base = (n: string) => {
    const g = /^([A-Za-z]+?)(\d+)$/.exec(n);
    const greek = ['alpha', 'beta', 'gamma', 'lambda', 'mu', 'sigma', 'theta', 'eta', 'epsilon', 'tau', 'phi', 'omega'];
    if (greek.includes(n)) return `\\${n}`;
    if (n === 'λ') return '\\lambda';
    if (g) return `${g[1]!.length > 1 ? `\\mathit{${g[1]}}` : g[1]}_{${g[2]}}`;
    return n.length > 1 ? `\\mathit{${n.replace(/_/g, '\\_')}}` : n;
  };
  return m ? `\\mathrm{d}${base(m[1]!)}` : base(name);
}

/** A name with index subscripts; a name that already has one (Y_{1} for Y1) is braced, since
 * `Y_{1}_{n}` is a double subscript that LaTeX rejects. */
export function latexSub(name: string, subs: string): string {
  const n = latexName(name);
  return `${n.includes('_') ? `{${n}}` : n}_{${subs}}`;
}

const sizeLatex = (s: string) => s.replace(/\*/g, ' ');
/** Parenthesised unless a single name or number. */
const groupLatex = (s: string) => (/^[\w\\{}]+$/.test(s) ? s : `\\left(${s}\\right)`);

function atomLatex(a: Atom): string {
  switch (a.kind) {
    case 'var':
      return a.name;
    // ⌊(n − 1)/2⌋: without the parentheses `n - 1 / 2` inside the floor reads as n − ½
    case 'div':
      return `\\left\\lfloor ${groupLatex(indexLatex(a.of))} / ${groupLatex(sizeLatex(printPoly(a.by)))} \\right\\rfloor`;
    // (n−1) mod 2: \bmod binds looser than juxtaposition but a reader takes `n - 1 \bmod 2` as n − (1 mod 2)
    case 'mod':
      return `\\left(${groupLatex(indexLatex(a.of))} \\bmod ${groupLatex(sizeLatex(printPoly(a.by)))}\\right)`;
    // a data-dependent subscript: the integer tensor's element, tok_{n}
    case 'read':
      return a.subs.length ? `\\mathrm{${a.tensor}}_{${a.subs.map(indexLatex).join(',')}}` : `\\mathrm{${a.tensor}}`;
    default:
      return assertNever(a);
  }
}

export function indexLatex(e: IndexExpr): string {
  // positive parts as they come, negative ones after them (`h + P - uT`); indexed loops and Map
  // forEach, no iterators or spread copies: this runs cold on every subscript of every formula
  let out = '';
  let negatives: string[] | undefined;
  const part = (neg: boolean, body: string) => {
    if (neg) (negatives ??= []).push(body);
    else out += out === '' ? body : ` + ${body}`;
  };
  for (let i = 0; i < e.terms.length; i++) {
    const t = e.terms[i]!;
    const k = polyConstValue(t.coef);
    if (k !== undefined) part(k < 0, Math.abs(k) === 1 ? atomLatex(t.atom) : `${Math.abs(k)}${atomLatex(t.atom)}`);
    else if (t.coef.size === 1) {
      let mono = '';
      let v = 0;
      t.coef.forEach((value, key) => {
        mono = key;
        v = value;
      });
      part(v < 0, `${Math.abs(v) === 1 ? '' : Math.abs(v)}${sizeLatex(mono)} ${atomLatex(t.atom)}`);
    } else part(false, `\\left(${sizeLatex(printPoly(t.coef))}\\right) ${atomLatex(t.atom)}`);
  }
  e.constant.forEach((v, mono) => part(v < 0, mono === '' ? String(Math.abs(v)) : `${Math.abs(v) === 1 ? '' : Math.abs(v)}${mono}`));
  if (negatives) for (let i = 0; i < negatives.length; i++) out += out === '' ? `-${negatives[i]}` : ` - ${negatives[i]}`;
  return out || '0';
}

export function exprLatex(e: Expr, ctx = 0): string {
  const wrap = (p: number, s: string) => (p < ctx ? `\\left(${s}\\right)` : s);
  switch (e.kind) {
    case 'num':
      return e.value < 0 ? wrap(PREC.neg, numberLatex(e.value)) : numberLatex(e.value);
    case 'sizeval':
      return wrap(e.size.kind === 'poly' && e.size.poly.size <= 1 ? PREC.atom : PREC.add, sizeLatex(printSize(e.size)));
    case 'index':
      return wrap(e.expr.terms.length + e.expr.constant.size > 1 ? PREC.add : PREC.atom, indexLatex(e.expr));
    case 'access':
      return e.subs.length ? latexSub(e.tensor, e.subs.map(indexLatex).join(',')) : latexName(e.tensor);
    case 'delta':
      return `\\delta_{${indexLatex(e.a)},${indexLatex(e.b)}}`;
    case 'add': {
      let out = '';
      e.terms.forEach((t, i) => {
        if (i === 0) out += exprLatex(t, PREC.add);
        else if (t.kind === 'neg') out += ` - ${exprLatex(t.arg, PREC.mul)}`;
        else if (t.kind === 'num' && t.value < 0) out += ` - ${-t.value}`;
        else out += ` + ${exprLatex(t, PREC.add)}`;
      });
      return wrap(PREC.add, out);
    }
    case 'mul':
      return wrap(PREC.mul, e.factors.map((f) => exprLatex(f, PREC.mul)).join(' \\, '));
    case 'div':
      return `\\frac{${exprLatex(e.num)}}{${exprLatex(e.den)}}`;
    case 'pow':
      return wrap(PREC.pow, `{${exprLatex(e.base, PREC.atom)}}^{${exprLatex(e.exp)}}`);
    case 'neg':
      return wrap(PREC.neg, `-${exprLatex(e.arg, PREC.mul)}`);
    case 'compare': {
      const op = { '>': '>', '<': '<', '>=': '\\geq', '<=': '\\leq', '==': '=', '!=': '\\neq' }[e.op];
      return `\\left[${exprLatex(e.a, PREC.add)} ${op} ${exprLatex(e.b, PREC.add)}\\right]`;
    }
    case 'call':
      return FN[e.fn]!(e.args.map((a) => exprLatex(a)));
    case 'reduce': {
      const idx = e.indices.map((b) => b.name).join(',');
      const body = exprLatex(e.body, PREC.mul);
      switch (e.op) {
        case 'sum':
          return wrap(PREC.add, `\\sum_{${idx}} ${body}`);
        case 'mean':
          return wrap(PREC.add, `\\operatorname*{mean}_{${idx}} ${body}`);
        case 'max':
          return wrap(PREC.add, `\\max_{${idx}} ${body}`);
        case 'min':
          return wrap(PREC.add, `\\min_{${idx}} ${body}`);
        case 'logsumexp':
          return `\\log \\sum_{${idx}} e^{${exprLatex(e.body)}}`;
        case 'prod':
          return wrap(PREC.add, `\\prod_{${idx}} ${body}`);
        default:
          return assertNever(e as never);
      }
    }
    case 'argmax': {
      const idx = e.indices.map((b) => b.name).join(',');
      return `\\left[(${e.at.map(indexLatex).join(',')}) = \\operatorname*{arg${e.op}}_{${idx}} ${exprLatex(e.body, PREC.mul)}\\right]`;
    }
    case 'matfn': {
      // the matrix: a tensor's name, or [body]_{p,q}
      const whole = e.body.kind === 'access' && e.of === e.body.tensor ? latexName(e.of) : undefined;
      const m = whole ?? `\\left[${exprLatex(e.body)}\\right]_{${e.indices.map((b) => b.name).join(',')}}`;
      if (e.fn === 'det') return `\\det ${whole ? m : `\\left(${m}\\right)`}`;
      if (e.fn === 'logdet') return `\\log \\left|\\det ${m}\\right|`;
      return `\\left(${m}^{-1}\\right)_{${e.at.map(indexLatex).join(',')}}`;
    }
    default:
      return assertNever(e);
  }
}

export function statementLatex(s: Statement): string {
  const lhs = s.lhs.length ? latexSub(s.tensor, s.lhs.map((b) => b.name).join(',')) : latexName(s.tensor);
  return `${lhs} = ${exprLatex(s.rhs)}`;
}
