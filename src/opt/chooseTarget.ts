// chooseTarget: the cost rule — does a kernel run as WebAssembly (over a copy of its tensors in the
// module's memory) or as JavaScript? It marks the kernel `runs: 'wasm'` or leaves it.
//
// Worked example: the max-pool forward (a 2×2 window per output, its max and arg-max kept without a
// branch in WebAssembly) and the ReLU backward (a loop of 4 lanes at a time) run as WebAssembly;
// `Y[i] = exp(X[i])` stays JavaScript — both would call the same Math.exp per element, so the copies
// in and out would be pure loss; a GEMM kernel stays JavaScript around its own WebAssembly calls.
// Kernels the WebAssembly printer cannot take (scratch arrays, views of the GEMM's memory, a read not
// known in range outside the arm of a select, an integer division by a size that might be 0) stay
// JavaScript whatever the mode. A kernel that reads integer data (E[tok[n], d]) runs its data check in
// JavaScript (the error message), then the rest as WebAssembly where the rule says so — but not when
// it gathers from or scatters into a table through the data: that table would be copied whole.
//
// The rule (bench/groups/kernels.ts measures each class both ways): per element of the output loop
// nest, count the work — arithmetic a unit, a comparison or select a unit, a host Math call
// HOST_CALL units that WebAssembly does not speed up, an inner loop's body times its trip count
// (INNER_TRIPS when it is not a constant) — and the copies: every tensor the kernel reads or
// writes is one element moved per output element. WebAssembly pays when the work it speeds up per
// element is at least WORK_PER_COPY times the elements it copies, or when a loop vectorizes (the
// softmax cross-entropy loss, a scalar, is weighed by its whole body: its row sums vectorize).
import { stmtExprs, walkExpr, walkStmts } from '../loop/mapLoop.js';
import { assertNever, PARTS_KEY, type Buf, type Intrinsic, type Kernel, type LExpr, type LStmt, type Sym } from '../loop/types.js';
import { strengthReduce } from './strengthReduce.js';
import { vectorPlan } from './vectorizeLoops.js';

export type WasmMode = 'auto' | 'always' | 'never';

/** the rule's constants, measured on the benchmark's kernel classes */
export const COST = {
  /** an inner loop whose trip count is not a constant: assumed this long */
  INNER_TRIPS: 4,
  /** units of sped-up work per element copied for WebAssembly to pay */
  WORK_PER_COPY: 3,
} as const;

/** functions with no WebAssembly spelling and no host import: JavaScript helpers (src/target/js.ts) */
const JS_ONLY: readonly Intrinsic[] = ['erf'];

/** Can the WebAssembly printer take the kernel? (what it cannot print, and reads that could trap) */
export function printableAsWasm(k: Kernel): boolean {
  let ok = true;
  // a split kernel's share divides by the number of threads, never 0 (splitParallelLoop.ts)
  const parts = new Set(k.sizes.filter((z) => z.key === PARTS_KEY).map((z) => z.v));
  walkStmts(k.body, (s) => {
    if (s.kind === 'alloc' || s.kind === 'view' || s.kind === 'choose' || s.kind === 'microkernel' || s.kind === 'linalg' || s.kind === 'fail') ok = false;
  });
  const exprOk = (e: LExpr, guarded: boolean): boolean => {
    switch (e.kind) {
      case 'const':
      case 'var':
        return true;
      case 'length':
      // JavaScript's Atomics (the kernels that claim are GEMMs, JavaScript around WebAssembly calls)
      case 'claim':
        return false;
      case 'load':
        return (e.inBounds || guarded) && exprOk(e.index, guarded);
      case 'unary':
        return exprOk(e.a, guarded);
      case 'binary':
        // a division by a size (0 traps in WebAssembly; JavaScript gives ±∞)
        if (['floordiv', 'ceildiv', 'mod', 'rem'].includes(e.op) && e.b.kind !== 'const' && !(e.b.kind === 'var' && parts.has(e.b.v))) return false;
        return exprOk(e.a, guarded) && exprOk(e.b, guarded || e.op === '&&' || e.op === '||');
      case 'select':
        return exprOk(e.cond, guarded) && exprOk(e.then, true) && exprOk(e.else, true);
      case 'call':
        return !JS_ONLY.includes(e.fn) && e.args.every((a) => exprOk(a, guarded));
      default:
        return assertNever(e);
    }
  };
  walkStmts(k.body, (s) => {
    const exprs = s.kind === 'for' ? [s.lo, s.hi, s.step] : s.kind === 'let' ? [s.init] : s.kind === 'assign' ? [s.value] : s.kind === 'store' ? [s.index, s.value] : s.kind === 'if' ? [s.cond] : s.kind === 'fill' ? [s.from, s.to, s.value] : s.kind === 'copy' ? [s.dstAt, s.srcAt, s.count] : [];
    if (!exprs.every((e) => exprOk(e, false))) ok = false;
  });
  return ok;
}

const HOST_CALL = new Set(['exp', 'log', 'sin', 'cos', 'tanh', 'pow', 'log1p', 'expm1', 'sigmoid', 'softplus', 'elu']);

/** Work WebAssembly speeds up, per trip of a statement list (host calls count nothing). */
function work(body: readonly LStmt[]): number {
  let total = 0;
  const expr = (e: LExpr) =>
    walkExpr(e, (x) => {
      const square = x.kind === 'call' && x.fn === 'pow' && x.args[1]!.kind === 'const' && x.args[1]!.value === 2;
      if (x.kind === 'binary' || x.kind === 'select' || (x.kind === 'call' && (!HOST_CALL.has(x.fn) || square))) total += 1;
    });
  for (const s of body) {
    switch (s.kind) {
      case 'for': {
        const trips = s.lo.kind === 'const' && s.hi.kind === 'const' && s.step.kind === 'const' ? Math.max(0, Math.ceil((s.hi.value - s.lo.value) / s.step.value)) : COST.INNER_TRIPS;
        total += trips * work(s.body);
        break;
      }
      case 'let':
        expr(s.init);
        break;
      case 'assign':
        expr(s.value);
        break;
      case 'store':
        expr(s.value);
        break;
      case 'if':
        expr(s.cond);
        total += Math.max(work(s.then), work(s.else)) + 1;
        break;
      case 'block':
        total += work(s.body);
        break;
      default:
        break;
    }
  }
  return total;
}

/** The body of the output loop nest's innermost loop that stores (the work per output element). */
function perElement(body: readonly LStmt[]): readonly LStmt[] | undefined {
  for (const s of body) {
    if (s.kind === 'for') {
      const stores = s.body.some((t) => t.kind === 'store');
      if (stores) return s.body;
      const inner = perElement(s.body);
      if (inner) return inner;
    } else if (s.kind === 'if' || s.kind === 'block') {
      const inner = perElement(s.kind === 'if' ? [...s.then, ...s.else] : s.body);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Does some innermost loop vectorize? */
function vectorizes(k: Kernel): boolean {
  let any = false;
  walkStmts(k.body, (s) => void (any ||= s.kind === 'for' && vectorPlan(s, k.dtype) !== undefined));
  return any;
}

/** A kernel that reads integer data begins with its check (checkDataLoops.ts), whose error message
 *  only JavaScript makes: the leading statements that can fail, and the rest. */
function splitDataCheck(k: Kernel): { check: readonly LStmt[]; rest: Kernel } {
  if (!k.data) return { check: [], rest: k };
  let n = 0;
  while (n < k.body.length && fails([k.body[n]!])) n++;
  return { check: k.body.slice(0, n), rest: { ...k, body: k.body.slice(n) } };
}

function fails(body: readonly LStmt[]): boolean {
  let any = false;
  walkStmts(body, (s) => void (any ||= s.kind === 'fail'));
  return any;
}

/** Tensors the kernel reads or writes only at positions data gives (E in E[tok[n], d]): copied
 *  whole into the memory, V rows, for the N rows it touches — a cost the rule cannot weigh without
 *  the sizes (bench/groups/kernels.ts: the embedding gather runs 1.8× the CPU time as WebAssembly). */
function gatheredTables(k: Kernel): Buf[] {
  const viaData = new Set<Sym>();
  const fromData = (e: LExpr) => {
    let hit = false;
    walkExpr(e, (x) => void (hit ||= x.kind === 'load' || (x.kind === 'var' && viaData.has(x.v))));
    return hit;
  };
  const direct = new Set<Buf>();
  const indirect = new Set<Buf>();
  const note = (buf: Buf, index: LExpr) => (fromData(index) ? indirect : direct).add(buf);
  walkStmts(k.body, (s) => {
    if ((s.kind === 'let' && fromData(s.init)) || (s.kind === 'assign' && fromData(s.value))) viaData.add(s.v);
    if (s.kind === 'store') note(s.buf, s.index);
    for (const e of stmtExprs(s)) walkExpr(e, (x) => void (x.kind === 'load' && note(x.buf, x.index)));
  });
  return [...indirect].filter((b) => !direct.has(b));
}

export function chooseTarget(k: Kernel, mode: WasmMode): Kernel {
  if (mode === 'never') return k;
  // a kernel that reads integer data: its check runs in JavaScript first, then the rest may run as
  // WebAssembly (over an Int32Array copy of the data, every element of which the check has bounded)
  const { check, rest } = splitDataCheck(k);
  if (!printableAsWasm(rest)) return k;
  const wasm: Kernel = { ...rest, runs: 'wasm', ...(check.length ? { prologue: check } : {}) };
  if (mode === 'always') return wasm;
  if (k.data && gatheredTables(rest).length) return k;
  // weighed as strengthReduce leaves it (the pipeline decides before peelBorders reshapes the loops);
  // a kernel whose loops store nothing (a scalar output: the whole kernel is one reduction) is
  // weighed by its whole body
  const reduced = strengthReduce(rest);
  const each = perElement(reduced.body) ?? reduced.body;
  const copies = rest.buffers.length;
  const pays = vectorizes(reduced) || work(each) >= COST.WORK_PER_COPY * copies;
  return pays ? wasm : k;
}
