// legaliseWgsl: a GPU kernel's loops → what a WebGPU compute shader has instead: the `parallel`
// loops around it become the grid of invocations (or of workgroups), the `workgroup` loop becomes
// the invocations of one workgroup, workgroup allocations move to module scope, and loops still
// marked `unrolled` or `vectorized` become plain loops; an invocation's own arrays (`thread` scope,
// a constant size) stay where they are. What WGSL cannot express (f64, scratch arrays of a run-time
// size, the WebAssembly micro-kernel statements) is an error here.
//
// Worked example, Y[n,f] = relu(X[n,f]) lowered as  for n in [0,N) parallel { for f in [0,F) parallel { store } }:
//   grid [N, F], 64 invocations a workgroup, one invocation per element:
//     let $flat = $wid·64 + $lid
//     if ($flat < N·F) { let n = ⌊$flat/F⌋; let f = $flat rem F; store … }
// and a GEMM  for $bi, $bj parallel { alloc $As workgroup; …; for $t in [0,64) workgroup { … } }:
//   grid [⌈M/32⌉, ⌈N/32⌉], one workgroup of 64 per grid point, $As at module scope:
//     if ($wid < ⌈M/32⌉·⌈N/32⌉) { let $bi = …; let $bj = …; let $t = $lid; … }
// The printer binds $wid (the workgroup's linear position) and $lid (its local index).
import { add, c, floordiv, if_, isConst, let_, lt, mul, rem, substituteAll, sym, v, varsOf } from '../../loop/build.js';
import { mapBlocks, stmtExprs, walkExpr, walkStmts } from '../../loop/mapLoop.js';
import type { Kernel, LExpr, LStmt, Sym } from '../../loop/types.js';

export type WorkgroupAlloc = Extract<LStmt, { kind: 'alloc' }>;

export interface WgslLaunch {
  /** the kernel, its body legalised: no parallel or workgroup loops, the ids bound from $wid and $lid */
  readonly kernel: Kernel;
  /** extents of the grid (the parallel loops, outermost first), over the kernel's size parameters */
  readonly grid: readonly LExpr[];
  readonly workgroupSize: number;
  /** true: one invocation per grid point, workgroups of `workgroupSize` covering the grid; false: one
   * workgroup per grid point */
  readonly perInvocation: boolean;
  readonly shared: readonly WorkgroupAlloc[];
  /** the workgroup's linear position in the dispatch, and the invocation's index in its workgroup */
  readonly wid: Sym;
  readonly lid: Sym;
}

/** Invocations per workgroup when each computes one element. */
export const ELEMENT_WG = 64;

const fail = (k: Kernel, what: string): never => {
  throw new Error(`internal: kernel ${k.name} cannot run on WebGPU: ${what}`);
};

/** Peel a perfect nest of `kind` loops: the statements before each (lets, workgroup allocations)
 * and the loops themselves; blocks on the way are opened (their bindings are unique symbols). */
function peel(k: Kernel, body: readonly LStmt[], kind: 'parallel' | 'workgroup'): { pre: LStmt[]; loops: Extract<LStmt, { kind: 'for' }>[]; inner: readonly LStmt[] } {
  const pre: LStmt[] = [];
  const loops: Extract<LStmt, { kind: 'for' }>[] = [];
  let list = body;
  for (;;) {
    const flat = list.flatMap((s) => (s.kind === 'block' && s.body.some((x) => x.kind === 'for' && x.loop === kind) ? s.body : [s]));
    const at = flat.findIndex((s) => s.kind === 'for' && s.loop === kind);
    if (at < 0) return { pre, loops, inner: flat };
    const loop = flat[at] as Extract<LStmt, { kind: 'for' }>;
    if (at !== flat.length - 1) fail(k, `a ${kind} loop (${loop.v.name}) with statements after it`);
    for (const s of flat.slice(0, at)) if (s.kind !== 'let' && s.kind !== 'comment' && !(s.kind === 'alloc' && s.scope === 'workgroup')) fail(k, `a ${s.kind} statement between ${kind} loops`);
    if (!isConst(loop.lo, 0) || !isConst(loop.step, 1)) fail(k, `the ${kind} loop ${loop.v.name} does not count from 0 by 1`);
    pre.push(...flat.slice(0, at));
    loops.push(loop);
    list = loop.body;
  }
}

/** each index of a grid from its flat position (the last runs fastest) */
function unflattenLets(loops: readonly { v: Sym; extent: LExpr }[], flat: LExpr): LStmt[] {
  const out: LStmt[] = [];
  let stride = c(1);
  for (let d = loops.length - 1; d >= 0; d--) {
    const q = floordiv(flat, stride);
    out.unshift(let_(loops[d]!.v, d === 0 ? q : rem(q, loops[d]!.extent)));
    stride = mul(stride, loops[d]!.extent);
  }
  return out;
}

export function legaliseWgsl(k: Kernel): WgslLaunch {
  if (k.dtype !== 'f32') fail(k, `it computes in ${k.dtype} (WGSL has f32 only)`);
  const sizes = new Set(k.sizes.map((z) => z.v));
  const outer = peel(k, k.body, 'parallel');
  // the grid over the sizes alone: lets before the loops (hoisted bounds) substituted back
  const known = new Map<Sym, LExpr>();
  for (const s of outer.pre) if (s.kind === 'let' && !s.mutable) known.set(s.v, substituteAll(s.init, known));
  const grid = outer.loops.map((l) => {
    const extent = substituteAll(l.hi, known);
    if ([...varsOf(extent)].some((x) => !sizes.has(x))) fail(k, `the extent of the parallel loop ${l.v.name} depends on more than the sizes`);
    return extent;
  });
  const group = peel(k, outer.inner, 'workgroup');
  const perInvocation = group.loops.length === 0;
  let workgroupSize = ELEMENT_WG;
  if (!perInvocation) {
    workgroupSize = 1;
    for (const loop of group.loops) {
      if (loop.hi.kind !== 'const') fail(k, `the workgroup loop ${loop.v.name} has no constant extent`);
      workgroupSize *= (loop.hi as { value: number }).value;
    }
  }
  const shared: WorkgroupAlloc[] = [];
  const keep = (list: readonly LStmt[]) =>
    list.filter((s) => {
      if (s.kind !== 'alloc' || s.scope !== 'workgroup') return true;
      if (s.size.kind !== 'const') fail(k, `workgroup memory ${s.buf.name} of a run-time size`);
      shared.push(s);
      return false;
    });
  const outerPre = keep(outer.pre);
  const groupPre = keep(group.pre);
  const wid = sym('$wid', 'i32');
  const lid = sym('$lid', 'i32');
  const total = grid.reduce((a, b) => mul(a, b), c(1));
  const flat = sym('$flat', 'i32');
  const gridLets = unflattenLets(outer.loops.map((l, d) => ({ v: l.v, extent: grid[d]! })), v(flat));
  const groupLets = unflattenLets(group.loops.map((l) => ({ v: l.v, extent: l.hi })), v(lid));
  const inner = [...gridLets, ...outerPre, ...groupLets, ...groupPre, ...keep(group.inner)];
  const body: LStmt[] = [let_(flat, perInvocation ? add(mul(v(wid), c(ELEMENT_WG)), v(lid)) : v(wid)), ...if_(lt(v(flat), total), inner)];
  // what is left: plain loops; anything else has no WGSL form
  const legal = mapBlocks(body, (list) => (list.some((s) => s.kind === 'for' && s.loop !== 'serial') ? list.map((s): LStmt => (s.kind === 'for' && (s.loop === 'unrolled' || s.loop === 'vectorized') ? { ...s, loop: 'serial' } : s)) : list));
  walkStmts(legal, (s) => {
    if (s.kind === 'for' && s.loop !== 'serial') fail(k, `a ${s.loop} loop (${s.v.name}) inside the kernel`);
    if (s.kind === 'view' || s.kind === 'copy' || s.kind === 'fill' || s.kind === 'microkernel' || s.kind === 'choose') fail(k, `a ${s.kind} statement`);
    // an invocation's own array (function scope in WGSL) needs a constant size
    if (s.kind === 'alloc' && (s.scope !== 'thread' || s.size.kind !== 'const')) fail(k, `an allocation ${s.buf.name} of ${s.scope} scope${s.size.kind === 'const' ? '' : ' and a run-time size'}`);
    if (s.kind === 'barrier' && perInvocation) fail(k, 'a barrier outside a workgroup loop');
    for (const e of stmtExprs(s)) walkExpr(e, (x) => void (x.ty !== 'i32' && x.ty !== 'f32' && x.ty !== 'bool' && fail(k, `a value of type ${x.ty}`)));
  });
  return { kernel: { ...k, body: legal }, grid, workgroupSize, perInvocation, shared, wid, lid };
}
