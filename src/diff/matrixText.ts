// matrixText: the matrix expressions that renderMatrix builds, printed as text (A + Aᵀ)·x and as LaTeX.
//
// Worked example: { k: 'matmul', factors: [{ k: 'add', terms: [A, Aᵀ] }, x] } prints as (A + Aᵀ)·x and
// \left(A + A^{\top}\right) \, x; a sum inside a product is parenthesised, a product inside a sum is not.
import { assertNever } from '../ir/types.js';
import { latexName, latexSub, numberLatex } from './renderLatex.js';

/** A tensor's name, or a slice of it, X[n] (renderBatched), as LaTeX: X_{n}. */
export const nameLatex = (name: string): string => {
  const m = /^(\w+)\[(\w+)\]$/.exec(name);
  return m ? latexSub(m[1]!, m[2]!) : latexName(name);
};

/** A number in the matrix form, which is for reading: ∞ and NaN as themselves. */
export const numberText = (v: number): string => (v === Infinity ? '∞' : v === -Infinity ? '-∞' : String(v));

/** A matrix expression, printable as text and as LaTeX. */
export type M =
  | { readonly k: 'name'; readonly name: string }
  /** the ones vector; `len`, its length where known, spells it ones(N) in matrix notation */
  | { readonly k: 'ones'; readonly len?: string }
  | { readonly k: 'num'; readonly value: number }
  | { readonly k: 'size'; readonly text: string }
  | { readonly k: 't'; readonly a: M }
  | { readonly k: 'inv'; readonly a: M }
  /** the Euclidean norm of a vector, ‖a‖ */
  | { readonly k: 'norm'; readonly a: M }
  | { readonly k: 'matmul'; readonly factors: readonly M[] }
  | { readonly k: 'had'; readonly factors: readonly M[] }
  | { readonly k: 'scale'; readonly factors: readonly M[] }
  | { readonly k: 'add'; readonly terms: readonly { readonly neg: boolean; readonly m: M }[] }
  | { readonly k: 'div'; readonly a: M; readonly b: M }
  | { readonly k: 'pow'; readonly a: M; readonly p: number }
  /** softmax carries the extent `len` of the index it normalises along, and whether its argument is a vector */
  | { readonly k: 'fn'; readonly fn: string; readonly args: readonly M[]; readonly len?: string; readonly vector?: boolean }
  | { readonly k: 'cmp'; readonly op: string; readonly a: M; readonly b: M }
  | { readonly k: 'kron'; readonly a: M; readonly s: string }
  | { readonly k: 'eye'; readonly len?: string }
  | { readonly k: 'otimes'; readonly a: M; readonly b: M }
  /** elementwise division, a ⊘ b */
  | { readonly k: 'hdiv'; readonly a: M; readonly b: M };

export const P = { add: 1, mul: 2, unary: 3, atom: 4 } as const;

export function text(m: M, ctx = 0): string {
  const wrap = (p: number, s: string) => (p < ctx ? `(${s})` : s);
  switch (m.k) {
    case 'name':
      return m.name;
    case 'ones':
      return '1';
    case 'num':
      return m.value < 0 ? wrap(P.unary, numberText(m.value)) : numberText(m.value);
    case 'size':
      return /^\w+$/.test(m.text) ? m.text : `(${m.text})`;
    case 't':
      return m.a.k === 'inv' ? `${text(m.a.a, P.atom)}⁻ᵀ` : `${text(m.a, P.atom)}ᵀ`;
    case 'inv':
      return `${text(m.a, P.atom)}⁻¹`;
    case 'norm':
      return `‖${text(m.a)}‖`;
    case 'matmul':
      return wrap(P.mul, m.factors.map((f) => text(f, P.mul + 0.5)).join('·'));
    case 'had':
      return wrap(P.mul, m.factors.map((f) => text(f, P.mul + 0.5)).join(' ⊙ '));
    case 'scale':
      return wrap(P.mul, m.factors.map((f) => text(f, P.mul + 0.5)).join('·'));
    case 'add':
      return wrap(P.add, m.terms.map((t, i) => (i === 0 ? (t.neg ? '−' : '') : t.neg ? ' − ' : ' + ') + text(t.m, P.mul)).join(''));
    case 'div':
      return wrap(P.mul, `${text(m.a, P.mul)}/${text(m.b, P.atom)}`);
    case 'pow':
      // a negative or fractional power in parentheses: v^(-1.5), never v^-1.5
      return `${text(m.a, P.atom)}${m.p === 2 ? '²' : m.p === 3 ? '³' : m.p >= 0 && Number.isInteger(m.p) ? `^${m.p}` : `^(${m.p})`}`;
    case 'fn':
      return `${m.fn}(${m.args.map((a) => text(a)).join(', ')})`;
    case 'cmp':
      return `(${text(m.a, P.add)} ${m.op} ${text(m.b, P.add)})`;
    case 'kron':
      return wrap(P.add + 0.5, `${text(m.a, P.atom)} ⊗ 1_${m.s}×${m.s}`);
    case 'eye':
      return 'I';
    case 'otimes':
      return wrap(P.add + 0.5, `${text(m.a, P.mul + 0.5)} ⊗ ${text(m.b, P.mul + 0.5)}`);
    case 'hdiv':
      return wrap(P.mul, `${text(m.a, P.atom)} ⊘ ${text(m.b, P.atom)}`);
    default:
      return assertNever(m);
  }
}

/** A base that carries a superscript already (Aᵀ under a power) is braced: TeX allows one superscript. */
const scripted = (m: M): string => (m.k === 't' || m.k === 'pow' || m.k === 'inv' ? `{${latex(m, P.atom)}}` : latex(m, P.atom));

export function latex(m: M, ctx = 0): string {
  const wrap = (p: number, s: string) => (p < ctx ? `\\left(${s}\\right)` : s);
  switch (m.k) {
    case 'name':
      return nameLatex(m.name);
    case 'ones':
      return '\\mathbf{1}';
    case 'num':
      return m.value < 0 ? wrap(P.unary, numberLatex(m.value)) : numberLatex(m.value);
    case 'size':
      return /^\w+$/.test(m.text) ? m.text : `\\left(${m.text.replace(/\*/g, ' ')}\\right)`;
    case 't':
      return m.a.k === 'inv' ? `${latex(m.a.a, P.atom)}^{-\\top}` : `${scripted(m.a)}^{\\top}`;
    case 'inv':
      return `${latex(m.a, P.atom)}^{-1}`;
    case 'norm':
      return `\\left\\| ${latex(m.a)} \\right\\|`;
    case 'matmul':
      return wrap(P.mul, m.factors.map((f) => latex(f, P.mul + 0.5)).join(' \\, '));
    case 'had':
      return wrap(P.mul, m.factors.map((f) => latex(f, P.mul + 0.5)).join(' \\odot '));
    case 'scale':
      return wrap(P.mul, m.factors.map((f) => latex(f, P.mul + 0.5)).join(' \\, '));
    case 'add':
      return wrap(P.add, m.terms.map((t, i) => (i === 0 ? (t.neg ? '-' : '') : t.neg ? ' - ' : ' + ') + latex(t.m, P.mul)).join(''));
    case 'div':
      return `\\frac{${latex(m.a)}}{${latex(m.b)}}`;
    case 'pow':
      return `${scripted(m.a)}^{\\odot ${m.p}}`;
    case 'fn':
      return `\\operatorname{${m.fn}}\\left(${m.args.map((a) => latex(a)).join(', ')}\\right)`;
    case 'cmp':
      return `\\left(${latex(m.a, P.add)} ${m.op === '>=' ? '\\geq' : m.op === '<=' ? '\\leq' : m.op === '!=' ? '\\neq' : m.op} ${latex(m.b, P.add)}\\right)`;
    case 'kron':
      return wrap(P.add + 0.5, `${latex(m.a, P.atom)} \\otimes \\mathbf{1}_{${m.s}\\times ${m.s}}`);
    case 'eye':
      return 'I';
    case 'otimes':
      return wrap(P.add + 0.5, `${latex(m.a, P.mul + 0.5)} \\otimes ${latex(m.b, P.mul + 0.5)}`);
    case 'hdiv':
      return wrap(P.mul, `${latex(m.a, P.atom)} \\oslash ${latex(m.b, P.atom)}`);
    default:
      return assertNever(m);
  }
}


/** The same expression in the language's matrix notation (LANGUAGE.md v2), which re-parses: ' for ᵀ,
 *  * for · (and scaling), .* for ⊙, inv(A) for A⁻¹, ones(N) and eye(N) for a 1 and an I of known
 *  length, softmax(X) spelled out along its rows; null when it has no spelling there (⊗, a 1 of
 *  unknown length). (A + Aᵀ)·x → (A + A')*x, 1ᵀ·dY → ones(N)'*dY. */
export function source(m: M, ctx = 0): string | null {
  const wrap = (p: number, s: string) => (p < ctx ? `(${s})` : s);
  const all = (ms: readonly M[], c: number): string[] | null => {
    const out = ms.map((x) => source(x, c));
    return out.every((x) => x !== null) ? (out as string[]) : null;
  };
  switch (m.k) {
    case 'name':
      // a slice X[n] (renderBatched) is not matrix notation: that form keeps it as its sliceSource only
      return m.name;
    case 'num':
      return Number.isFinite(m.value) ? (m.value < 0 ? wrap(P.unary, String(m.value)) : String(m.value)) : null;
    case 'size':
      return /^\w+$/.test(m.text) ? m.text : `(${m.text})`;
    case 't': {
      const a = source(m.a, P.atom);
      return a && `${a}'`;
    }
    case 'inv': {
      const a = source(m.a);
      return a && `inv(${a})`;
    }
    case 'norm': {
      const a = source(m.a);
      return a && `norm2(${a})`;
    }
    case 'matmul':
    case 'scale':
    case 'had': {
      const fs = all(m.factors, P.mul + 0.5);
      return fs && wrap(P.mul, fs.join(m.k === 'had' ? ' .* ' : '*'));
    }
    case 'add': {
      const ts = all(m.terms.map((t) => t.m), P.mul);
      return ts && wrap(P.add, ts.map((t, i) => (i === 0 ? (m.terms[i]!.neg ? '-' : '') : m.terms[i]!.neg ? ' - ' : ' + ') + t).join(''));
    }
    case 'div': {
      const [a, b] = [source(m.a, P.mul), source(m.b, P.atom)];
      return a && b && wrap(P.mul, `${a}/${b}`);
    }
    case 'pow': {
      const a = source(m.a, P.atom);
      return a && `${a}.^${m.p < 0 ? `(${m.p})` : m.p}`;
    }
    case 'fn': {
      const as = all(m.args, 0);
      if (m.fn !== 'softmax') return as && `${m.fn}(${as.join(', ')})`;
      // each row's exp over the row's sum: exp(X) ./ (exp(X)*ones(C)*ones(C)'), a vector's over its sum
      if (!as || m.len === undefined) return null;
      const e = `exp(${as[0]})`;
      const n = sizeSource(m.len);
      return wrap(P.mul, m.vector ? `${e}/(ones(${n})'*${e})` : `${e} ./ (${e}*ones(${n})*ones(${n})')`);
    }
    case 'cmp': {
      const [a, b] = [source(m.a, P.add), source(m.b, P.add)];
      return a && b && `(${a} ${m.op} ${b})`;
    }
    case 'hdiv': {
      const [a, b] = [source(m.a, P.atom), source(m.b, P.atom)];
      return a && b && wrap(P.mul, `${a} ./ ${b}`);
    }
    case 'ones':
      return m.len === undefined ? null : `ones(${sizeSource(m.len)})`;
    case 'eye':
      return m.len === undefined ? null : `eye(${sizeSource(m.len)})`;
    case 'kron':
    case 'otimes':
      return null;
    default:
      return assertNever(m);
  }
}

/** A size as an argument of ones/eye: a name or a number as it is, an expression in parentheses. */
const sizeSource = (len: string): string => (/^\w+$/.test(len) ? len : `(${len})`);
