// intermediates: the tensors the planner adds — named, keyed so that one value is computed once
// however many statements ask for it, and kept in the order they must run.
//
// Worked example: asked for `sum(k) A[i,k]*X[k,m]` (i over I, m over M) by the forward and again,
// as `sum(k2) A[p,k2]*X[k2,q]`, by a gradient, the registry holds one statement
//   AX[i,m] = sum(k) A[i,k]*X[k,m]           (computed in the forward)
// and answers both with reads of it, AX[i,m] and AX[p,q]: the key renames the free indices in order
// of first use (#0, #1) and records their ranges, and exprKey numbers the bound ones.
import { idxVar } from '../ir/affine.js';
import { access, exprKeyRenamed, freeIndices } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import { sizeKey } from '../ir/sizes.js';
import type { Bound, Expr, SizeExpr, Statement, TensorInfo } from '../ir/types.js';

export type Phase = 'forward' | 'backward';

/** A value named once and read wherever it is needed. */
export interface Intermediate {
  readonly statement: Statement;
  readonly info: TensorInfo;
  readonly phase: Phase;
}

/** The key of a value in its context: free indices renamed #0, #1 … in order of use, with their ranges. */
export function valueKey(e: Expr, extentOf: (v: string) => SizeExpr): { key: string; free: string[] } {
  const free = freeIndices(e);
  const renamed = exprKeyRenamed(e, new Map(free.map((v, k) => [v, `#${k}`] as const)));
  return { key: `${renamed}|${free.map((v) => sizeKey(extentOf(v))).join(',')}`, free };
}

export class Registry {
  /** in the order they were made: each reads only what was made before it */
  readonly made: Intermediate[] = [];
  private readonly byKey = new Map<string, Intermediate>();
  /** values made from another form of themselves (a reduction before its contractions were
   *  ordered): the key of that form, and where each of the statement's indices is in its free list */
  private readonly aliases = new Map<string, { made: Intermediate; at: number[] }>();
  private readonly taken: Set<string>;
  private readonly tensors: ReadonlySet<string>;
  constructor(taken: Iterable<string>, tensors: Iterable<string>) {
    this.taken = new Set(taken);
    this.tensors = new Set(tensors);
  }

  /** A name of the family `stem`: stem, stem2, stem3 … that is no tensor, gradient, size or index,
   *  and whose gradient name dX would not be a tensor's either. */
  private name(stem: string): string {
    const ok = (n: string) => !this.taken.has(n) && !this.tensors.has(`d${n}`) && !(n.startsWith('d') && this.tensors.has(n.slice(1)));
    for (let k = 1; ; k++) {
      const n = k === 1 ? stem : `${stem}${k}`;
      if (ok(n)) {
        this.taken.add(n);
        return n;
      }
    }
  }

  /** The read of the value `e` takes in a context where `extentOf` gives each free index's range:
   *  of the intermediate already made for it, or of a new one named from `stem`. */
  read(e: Expr, extentOf: (v: string) => SizeExpr, stem: string, phase: Phase, why: string, log?: (line: string) => void, alias?: { key: string; free: readonly string[] }): Expr {
    const { key, free } = valueKey(e, extentOf);
    const had = this.byKey.get(key);
    if (had) {
      // the same value at other indices: the k-th free index of e is the k-th of the statement
      const at = access(had.statement.tensor, free.map(idxVar));
      log?.(`${printExpr(e)} is ${printExpr(at)}, computed already`);
      return at;
    }
    const name = this.name(stem);
    const lhs: Bound[] = free.map((v) => ({ name: v, extent: extentOf(v) }));
    const statement: Statement = { tensor: name, lhs, rhs: e, line: 0 };
    const made: Intermediate = { statement, info: { name, shape: lhs.map((b) => b.extent), role: 'intermediate', declared: false }, phase };
    this.made.push(made);
    this.byKey.set(key, made);
    if (alias) this.aliases.set(alias.key, { made, at: lhs.map((b) => alias.free.indexOf(b.name)) });
    log?.(`${why}: ${name}${lhs.length ? `[${lhs.map((b) => b.name).join(',')}]` : ''} = ${printExpr(e)}`);
    return access(name, free.map(idxVar));
  }

  /** The read of a value made from another form of it (see read's alias), or undefined; `free` are
   *  the occurrence's free indices in the order valueKey gives. */
  lookup(key: string, free: readonly string[], log?: (line: string) => void): Expr | undefined {
    const a = this.aliases.get(key);
    if (!a) return undefined;
    const at = access(a.made.statement.tensor, a.at.map((k) => idxVar(free[k]!)));
    log?.(`the value ${printExpr(at)} is computed already`);
    return at;
  }

  /** Was this value made already (so reading it costs nothing more)? */
  has(e: Expr, extentOf: (v: string) => SizeExpr): boolean {
    return this.byKey.has(valueKey(e, extentOf).key);
  }
}
