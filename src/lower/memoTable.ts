// memoTable: an index table that depends on the sizes alone, filled once and kept across calls —
// filled again only when a value it was filled for changes. A conv's GEMM gathers through offset
// tables as long as the batch's pixels (25 088 entries in the MNIST CNN); making and filling them on
// every call cost 25–30 % of a worker's share of the conv, the same on every thread.
//
// Worked example, the output columns of Y[n,f,u,v] (28×28 images, size N):
//   alloc $Y_col (module scope, grown on demand)      alloc $Y_col_for (module scope, 2 elements)
//   if ($Y_col_for[0] != 1 || $Y_col_for[1] != N) {
//     for n, u, v: $Y_col[q++] = n·F·784 + u·28 + v
//     $Y_col_for[0] = 1; $Y_col_for[1] = N
//   }
// With `into` (the WebAssembly packer reads the table from its own memory, which other kernels
// reuse between calls) the kept table is copied there on every call: a memcpy, not the loops.
// Module scratch is per module instance — per worker thread — and a kernel runs to completion, so
// the table is never seen half filled. The name must be unique in the module (module scratch of one
// name is one array).
import { buffer, c, load, ne, or, store, varsOf } from '../loop/build.js';
import { stmtExprs, walkStmts } from '../loop/mapLoop.js';
import type { Buf, LExpr, LStmt, MicroModule, Sym } from '../loop/types.js';

/** `fill` writes every element of the table it is given; its free variables (the sizes, a residue
 *  class's offsets) are what the kept table is keyed on. */
export function memoTable(name: string, size: LExpr, fill: (table: Buf) => LStmt[], into?: { readonly module: MicroModule; readonly offset: LExpr }): { table: Buf; stmts: LStmt[] } {
  const kept = buffer(`${name}_kept`, 'i32');
  const filling = fill(kept);
  const keys = freeVars([{ kind: 'block', body: filling }], size);
  const filledFor = buffer(`${name}_for`, 'i32');
  const stale = keys.reduce<LExpr>((acc, k, i) => or(acc, ne(load(filledFor, c(i + 1)), { kind: 'var', ty: 'i32', v: k })), ne(load(filledFor, c(0)), c(1)));
  const stmts: LStmt[] = [
    { kind: 'alloc', buf: kept, size, scope: 'module', zero: false },
    { kind: 'alloc', buf: filledFor, size: c(keys.length + 1), scope: 'module', zero: false },
    { kind: 'if', cond: stale, then: [...filling, store(filledFor, c(0), c(1)), ...keys.map((k, i) => store(filledFor, c(i + 1), { kind: 'var', ty: 'i32', v: k }))], else: [] },
  ];
  if (!into) return { table: kept, stmts };
  const table = buffer(name, 'i32');
  stmts.push({ kind: 'view', buf: table, module: into.module, offset: into.offset, count: size }, { kind: 'copy', dst: table, dstAt: c(0), src: kept, srcAt: c(0), count: size });
  return { table, stmts };
}

/** The integer variables the statements and `size` read but do not bind, in order of first use. */
function freeVars(body: readonly LStmt[], size: LExpr): Sym[] {
  const bound = new Set<Sym>();
  walkStmts(body, (s) => void ((s.kind === 'for' || s.kind === 'let') && bound.add(s.v)));
  const seen = new Set<Sym>();
  const out: Sym[] = [];
  const note = (e: LExpr) => {
    for (const x of varsOf(e))
      if (!bound.has(x) && !seen.has(x)) {
        if (x.ty !== 'i32') throw new Error(`internal: a memo table depends on ${x.name}, of type ${x.ty}`);
        seen.add(x);
        out.push(x);
      }
  };
  note(size);
  walkStmts(body, (s) => stmtExprs(s).forEach(note));
  return out;
}
