// writeHvpProgram: the program whose gradient is a Hessian-vector product (reverse over reverse).
// The gradient program of a scalar output f (forward statements, then every gradient with f's seed
// 1), its gradients renamed apart (g_x for dx), a direction v_x per input, and the scalar
//   hvp = Σ ⟨g_x, v_x⟩
// whose gradient with respect to each input x is (H·v)_x — the Hessian is never formed: the kernels
// of this program run the forward, the gradient and its reverse, each a small multiple of f's cost.
//
// Worked example: f = x'*A*x (x: [N], A: [N, N]) becomes, after the source,
//   g_x: [N]
//   g_x[n] = sum(j) A[n,j]*x[j] + sum(i) x[i]*A[i,n]
//   g_A: [N, N]
//   g_A[i,j] = x[i]*x[j]
//   v_x: [N]
//   v_A: [N, N]
//   hvp = sum(i1) g_x[i1]*v_x[i1] + sum(i1,i2) g_A[i1,i2]*v_A[i1,i2]
// and the gradient dx of hvp is (A + Aᵀ)·v_x + (v_A + v_Aᵀ)·x.
import { LINE_BREAK } from '../ir/errors.js';
import { access, allIndexNames, mapChildren } from '../ir/exprs.js';
import { printStatement } from '../ir/print.js';
import { printSize } from '../ir/sizes.js';
import type { Expr, Program, Statement } from '../ir/types.js';
import { differentiate } from './differentiate.js';

export interface HvpProgram {
  readonly source: string;
  /** input → its direction's name */
  readonly directions: Readonly<Record<string, string>>;
  /** the scalar whose gradient is H·v */
  readonly output: string;
  /** the inputs to differentiate it with respect to: those of the program */
  readonly wrt: readonly string[];
}

/** The one scalar output, or undefined (no Hessian-vector product then). */
export function scalarOutputOf(p: Program): string | undefined {
  const outs = p.tensors.filter((t) => t.role === 'output');
  return outs.length === 1 && outs[0]!.shape.length === 0 ? outs[0]!.name : undefined;
}

export function writeHvpProgram(p: Program): HvpProgram {
  // integer data moves in no direction: it has no gradient
  const wrt = p.tensors.filter((t) => t.role === 'input' && t.elem !== 'int').map((t) => t.name);
  const grads = differentiate(p, { unitScalarSeeds: true });
  const taken = new Set<string>([...p.tensors.map((t) => t.name), ...p.sizes.map((s) => s.name), ...p.tensors.map((t) => `d${t.name}`)]);
  const fresh = (base: string): string => {
    let n = base;
    for (let k = 2; taken.has(n) || taken.has(`d${n}`); k++) n = `${base}${k}`;
    taken.add(n);
    taken.add(`d${n}`);
    return n;
  };
  const renamed = new Map(grads.map((g) => [g.statement.tensor, fresh(`g_${g.of}`)] as const));
  const rename = (e: Expr): Expr => (e.kind === 'access' && renamed.has(e.tensor) ? access(renamed.get(e.tensor)!, e.subs) : mapChildren(e, rename));
  const shape = new Map(p.tensors.map((t) => [t.name, t.shape] as const));
  const lines = [p.source.trimEnd().split(LINE_BREAK).join('\n'), '', '# the gradient, renamed apart, and its product with a direction (deltagrad)'];
  for (const g of grads) {
    const [s, ...scatters] = [g.statement, ...(g.scatters ?? [])].map((x): Statement => ({ ...x, tensor: renamed.get(g.statement.tensor)!, rhs: rename(x.rhs) }));
    lines.push(`${s!.tensor}: [${shape.get(g.of)!.map(printSize).join(', ')}]`, printStatement(s!), ...scatters.map(printStatement));
  }
  const directions = Object.fromEntries(wrt.map((x) => [x, fresh(`v_${x}`)] as const));
  for (const x of wrt) lines.push(`${directions[x]}: [${shape.get(x)!.map(printSize).join(', ')}]`);
  // the sums' indices: new to every statement
  const used = new Set([...taken, ...p.statements.flatMap((s) => [...s.lhs.map((b) => b.name), ...allIndexNames(s.rhs)])]);
  const index = (k: number) => {
    let n = `i${k + 1}`;
    while (used.has(n)) n = `${n}_`;
    return n;
  };
  const output = fresh('hvp');
  const terms = wrt.map((x) => {
    const ix = shape.get(x)!.map((_, k) => index(k));
    const sub = ix.length ? `[${ix.join(',')}]` : '';
    return `${ix.length ? `sum(${ix.join(',')}) ` : ''}${renamed.get(`d${x}`)}${sub}*${directions[x]}${sub}`;
  });
  lines.push(`${output} = ${terms.length ? terms.join(' + ') : '0'}`);
  return { source: lines.join('\n') + '\n', directions, output, wrt };
}
