// verifyLoops: the loop IR's own checker, run between passes in tests (and under DEBUG=deltagrad).
// It checks that every variable and buffer is bound where it is used, that no binding shadows one in
// scope, that only mutable lets are assigned, and that every operator gets operands of the types it
// takes. It returns the problems as text (empty when the kernel is well formed).
//
// Worked example: for i in [0, N) { store(Y, i, load(X, i) + 1) } with N an i32 size, X and Y f64
// buffers: fine. With `1` an i32 constant: "+ of f64 and i32 in store Y". With i never bound: "i is
// not bound".
import { assertNever, isFloat, isVector, laneOf, type Buf, type Kernel, type LExpr, type LStmt, type MicroFunction, type Sym, type Ty } from './types.js';

const ARITH = new Set(['+', '-', '*', '/', 'min', 'max']);
const INT_ONLY = new Set(['floordiv', 'ceildiv', 'mod', 'rem']);
const COMPARE = new Set(['<', '<=', '>', '>=', '==', '!=']);

function exprProblems(e: LExpr, where: string, scope: ReadonlySet<Sym>, bufs: ReadonlySet<Buf>, out: string[]): void {
  const bad = (msg: string): void => void out.push(`${msg} in ${where}`);
  switch (e.kind) {
    case 'const':
      return;
    case 'var':
      if (!scope.has(e.v)) bad(`${e.v.name}#${e.v.id} is not bound`);
      if (e.ty !== e.v.ty) bad(`${e.v.name} read as ${e.ty}, declared ${e.v.ty}`);
      return;
    case 'length':
      if (!bufs.has(e.buf)) bad(`buffer ${e.buf.name} is not bound`);
      return;
    case 'load':
      if (!bufs.has(e.buf)) bad(`buffer ${e.buf.name} is not bound`);
      if (e.index.ty !== 'i32') bad(`index of ${e.buf.name} is ${e.index.ty}`);
      if (e.buf.elem !== 'u8' && e.ty !== e.buf.elem && !(isVector(e.ty) && laneOf(e.ty) === e.buf.elem)) bad(`${e.buf.name} (${e.buf.elem}) read as ${e.ty}`);
      return exprProblems(e.index, where, scope, bufs, out);
    case 'unary': {
      exprProblems(e.a, where, scope, bufs, out);
      if (e.op === 'not' && !((e.ty === 'bool' && e.a.ty === 'bool') || (e.ty === 'i32x4' && e.a.ty === 'i32x4'))) bad('! of a non-boolean');
      if (e.op === 'hsum' && (!isVector(e.a.ty) || e.ty !== laneOf(e.a.ty))) bad(`hsum of ${e.a.ty} to ${e.ty}`);
      if ((e.op === 'floor' || e.op === 'ceil') && (!isFloat(e.ty) || e.a.ty !== e.ty)) bad(`${e.op} of ${e.a.ty}`);
      if (e.op === 'neg' && e.ty !== e.a.ty) bad(`neg: ${e.ty} of ${e.a.ty}`);
      if (e.op === 'splat' && (!isVector(e.ty) || laneOf(e.ty) !== e.a.ty)) bad(`splat of ${e.a.ty} to ${e.ty}`);
      return;
    }
    case 'binary': {
      exprProblems(e.a, where, scope, bufs, out);
      exprProblems(e.b, where, scope, bufs, out);
      if (e.a.ty !== e.b.ty) return bad(`${e.op} of ${e.a.ty} and ${e.b.ty}`);
      // a comparison of vectors is a lane mask (i32x4: all ones where it holds), as && and || of masks are
      if (COMPARE.has(e.op)) {
        if (e.ty !== (isVector(e.a.ty) ? 'i32x4' : 'bool')) bad(`${e.op} typed ${e.ty}`);
      } else if (e.op === 'evens' || e.op === 'odds' || e.op === 'interleaveLo' || e.op === 'interleaveHi') {
        if (!isVector(e.ty) || e.ty !== e.a.ty) bad(`${e.op} of ${e.a.ty} typed ${e.ty}`);
      } else if (e.op === '&&' || e.op === '||') {
        if (!((e.ty === 'bool' && e.a.ty === 'bool') || (e.ty === 'i32x4' && e.a.ty === 'i32x4'))) bad(`${e.op} of ${e.a.ty}`);
      } else if (INT_ONLY.has(e.op)) {
        if (e.ty !== 'i32' || e.a.ty !== 'i32') bad(`${e.op} of ${e.a.ty}`);
      } else if (ARITH.has(e.op)) {
        if (e.ty !== e.a.ty || e.ty === 'bool') bad(`${e.op} of ${e.a.ty} typed ${e.ty}`);
        if (e.op === '/' && !isFloat(e.ty)) bad('/ of integers');
      }
      return;
    }
    case 'select':
      exprProblems(e.cond, where, scope, bufs, out);
      exprProblems(e.then, where, scope, bufs, out);
      exprProblems(e.else, where, scope, bufs, out);
      if (e.cond.ty !== 'bool' && !(e.cond.ty === 'i32x4' && isVector(e.ty))) bad('select on a non-boolean');
      if (e.then.ty !== e.ty || e.else.ty !== e.ty) bad(`select of ${e.then.ty} and ${e.else.ty} typed ${e.ty}`);
      return;
    case 'claim':
      if (!bufs.has(e.buf)) bad(`buffer ${e.buf.name} is not bound`);
      if (e.buf.elem !== 'i32' || e.args.length !== 4 || e.args.some((a) => a.ty !== 'i32')) bad('a claim takes an i32 word and 4 i32 arguments');
      return e.args.forEach((a) => exprProblems(a, where, scope, bufs, out));
    case 'call':
      e.args.forEach((a) => {
        exprProblems(a, where, scope, bufs, out);
        if (a.ty !== e.ty) bad(`${e.fn} of ${a.ty} typed ${e.ty}`);
      });
      if (!isFloat(e.ty)) bad(`${e.fn} of ${e.ty}`);
      return;
    default:
      return assertNever(e);
  }
}

function listProblems(body: readonly LStmt[], outerScope: ReadonlySet<Sym>, outerBufs: ReadonlySet<Buf>, mutable: Set<Sym>, out: string[]): void {
  const scope = new Set(outerScope);
  const bufs = new Set(outerBufs);
  const bind = (s: Sym, what: string) => {
    if (scope.has(s)) out.push(`${s.name}#${s.id} is bound again (${what}) while in scope`);
    scope.add(s);
  };
  const bindBuf = (b: Buf, what: string) => {
    if (bufs.has(b)) out.push(`buffer ${b.name} is bound again (${what})`);
    bufs.add(b);
  };
  const expr = (e: LExpr, where: string, want?: Ty) => {
    exprProblems(e, where, scope, bufs, out);
    if (want && e.ty !== want) out.push(`${where} is ${e.ty}, not ${want}`);
  };
  for (const s of body) {
    switch (s.kind) {
      case 'for': {
        expr(s.lo, `loop ${s.v.name}`, 'i32');
        expr(s.hi, `loop ${s.v.name}`, 'i32');
        expr(s.step, `loop ${s.v.name}`, 'i32');
        if (s.v.ty !== 'i32') out.push(`loop variable ${s.v.name} is ${s.v.ty}`);
        if (scope.has(s.v)) out.push(`loop variable ${s.v.name}#${s.v.id} shadows a binding`);
        listProblems(s.body, new Set([...scope, s.v]), bufs, mutable, out);
        break;
      }
      case 'let':
        expr(s.init, `let ${s.v.name}`, s.v.ty);
        bind(s.v, 'let');
        if (s.mutable) mutable.add(s.v);
        break;
      case 'assign':
        expr(s.value, `${s.v.name} =`, s.v.ty);
        if (!scope.has(s.v)) out.push(`${s.v.name}#${s.v.id} is assigned but not bound`);
        else if (!mutable.has(s.v)) out.push(`${s.v.name} is assigned but not mutable`);
        break;
      case 'store': {
        expr(s.index, `store ${s.buf.name}`, 'i32');
        expr(s.value, `store ${s.buf.name}`);
        if (!bufs.has(s.buf)) out.push(`buffer ${s.buf.name} is not bound (store)`);
        const ok = s.buf.elem === 'u8' || s.value.ty === s.buf.elem || (isVector(s.value.ty) && laneOf(s.value.ty) === s.buf.elem);
        if (!ok) out.push(`store of ${s.value.ty} into ${s.buf.name} (${s.buf.elem})`);
        break;
      }
      case 'if':
        expr(s.cond, 'if', 'bool');
        listProblems(s.then, scope, bufs, mutable, out);
        listProblems(s.else, scope, bufs, mutable, out);
        break;
      case 'alloc':
        expr(s.size, `alloc ${s.buf.name}`, 'i32');
        bindBuf(s.buf, 'alloc');
        break;
      case 'view':
        expr(s.offset, `view ${s.buf.name}`, 'i32');
        if (s.count) expr(s.count, `view ${s.buf.name}`, 'i32');
        bindBuf(s.buf, 'view');
        break;
      case 'copy':
        [s.dstAt, s.srcAt, s.count].forEach((e) => expr(e, `copy into ${s.dst.name}`, 'i32'));
        for (const b of [s.dst, s.src]) if (!bufs.has(b)) out.push(`buffer ${b.name} is not bound (copy)`);
        if (s.dst.elem !== s.src.elem) out.push(`copy of ${s.src.elem} into ${s.dst.elem}`);
        break;
      case 'fill':
        expr(s.from, `fill ${s.buf.name}`, 'i32');
        expr(s.to, `fill ${s.buf.name}`, 'i32');
        expr(s.value, `fill ${s.buf.name}`);
        if (!bufs.has(s.buf)) out.push(`buffer ${s.buf.name} is not bound (fill)`);
        break;
      case 'microkernel':
        s.args.forEach((a) => expr(a, `${s.module}.${s.fn}`, 'i32'));
        break;
      case 'choose':
        expr(s.cond, `choose ${s.buf.name}`, 'bool');
        for (const b of [s.then, s.else]) if (!bufs.has(b)) out.push(`buffer ${b.name} is not bound (choose)`);
        if (s.then.elem !== s.buf.elem || s.else.elem !== s.buf.elem) out.push(`choose ${s.buf.name} of other element types`);
        bindBuf(s.buf, 'choose');
        break;
      case 'linalg':
        expr(s.n, `${s.fn} into ${s.dst.name}`, 'i32');
        for (const b of [s.src, s.dst]) if (!bufs.has(b)) out.push(`buffer ${b.name} is not bound (${s.fn})`);
        break;
      case 'fail':
        s.values.forEach((e) => expr(e, 'fail', 'i32'));
        break;
      case 'block':
        listProblems(s.body, scope, bufs, mutable, out);
        break;
      case 'comment':
      case 'barrier':
        break;
      default:
        assertNever(s);
    }
  }
}

/** The problems of a kernel; [] when it is well formed. */
export function verifyLoops(k: Kernel | MicroFunction): string[] {
  const out: string[] = [];
  if ('buffers' in k) {
    const scope = new Set(k.sizes.map((z) => z.v));
    for (const z of k.sizes) if (z.v.ty !== 'i32') out.push(`size ${z.key} is ${z.v.ty}`);
    listProblems(k.body, scope, new Set(k.buffers.map((b) => b.buf)), new Set(), out);
  } else {
    for (const p of k.params) if (p.ty !== 'i32') out.push(`parameter ${p.name} is ${p.ty}`);
    // a WebAssembly function's parameters are locals like any other: assignable
    listProblems(k.body, new Set(k.params), new Set([k.mem]), new Set(k.params), out);
  }
  return out.map((m) => `${k.name}: ${m}`);
}

/** Throws with every problem listed (for tests and DEBUG runs). */
export function assertVerified(k: Kernel | MicroFunction): void {
  const problems = verifyLoops(k);
  if (problems.length) throw new Error(`internal: malformed loop IR\n${problems.slice(0, 20).join('\n')}`);
}

