// js: the JavaScript printer of the loop IR (and, with `typed`, the TypeScript one: the same code
// plus `!` after each indexed read). It prints a kernel's statements; module.ts puts kernels,
// helpers and micro-kernel instances together.
//
// Worked example: for i in [0, N) { let $p = i*4; acc = acc + load(X, $p) } prints
//   for (let i = 0; i < N; i++) {
//     const $p = i * 4;
//     $acc += X[$p];
//   }
// and a loop whose body ends in `p = p + s` assignments carries them in its header:
//   for (let i = 0; i < N; i++, $p0 += 1) { … }
import { commentText, stringLiteral } from '../codegen/safeText.js';
import { LINALG_NAME } from './linalgHelper.js';
import { assertNever, isFloat, type Intrinsic, type LExpr, type LStmt, type MicroModule, type Ty } from '../loop/types.js';
import { atom, callOf, PREC, printExpr, wrap, type CLanguage, type Printed } from './cstyle.js';
import type { Namer } from './names.js';

/** JavaScript's spelling of a number: integers plain, others shortest round-trip, and the infinities. */
export function jsNumber(value: number, ty: Ty): Printed {
  if (ty === 'bool') return atom(value ? 'true' : 'false');
  const text = Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : String(value);
  return { text, prec: text.startsWith('-') ? PREC.unary : PREC.atom };
}

/** The module-level helper each intrinsic of the language calls (its spelling is its name). */
export const JS_HELPERS: Partial<Record<Intrinsic, { name: string; text: string; typed: string }>> = {
  relu: { name: 'relu', text: 'const relu = (x) => (x > 0 ? x : 0);', typed: 'const relu = (x: number): number => (x > 0 ? x : 0);' },
  sigmoid: { name: 'sigmoid', text: 'const sigmoid = (x) => 1 / (1 + Math.exp(-x));', typed: 'const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));' },
  softplus: {
    name: 'softplus',
    text: 'const softplus = (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));',
    typed: 'const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));',
  },
  elu: { name: 'elu', text: 'const elu = (x, a) => (x > 0 ? x : a * Math.expm1(x));', typed: 'const elu = (x: number, a: number): number => (x > 0 ? x : a * Math.expm1(x));' },
  // ties go to the first argument; NaN loses to a number
  fmax: { name: 'max', text: 'const max = (a, b) => (a >= b ? a : b);', typed: 'const max = (a: number, b: number): number => (a >= b ? a : b);' },
  fmin: { name: 'min', text: 'const min = (a, b) => (a <= b ? a : b);', typed: 'const min = (a: number, b: number): number => (a <= b ? a : b);' },
  // the interpreter's erf (src/ir/linalg.ts), step for step
  erf: { name: 'erf', text: erfText(false), typed: erfText(true) },
};

function erfText(typed: boolean): string {
  const n = typed ? ': number' : '';
  return [
    `const erf = (x${n})${n} => {`,
    '  const a = Math.abs(x);',
    '  if (!(a < 2.5)) {',
    '    if (a === Infinity) return Math.sign(x);',
    '    if (Number.isNaN(a)) return a;',
    '    let f = a;',
    '    for (let k = 60; k >= 1; k--) f = a + k / 2 / f;',
    '    const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;',
    '    return x < 0 ? erfc - 1 : 1 - erfc;',
    '  }',
    '  let term = x;',
    '  let sum = x;',
    '  for (let n = 1; n < 80; n++) {',
    '    term *= (-x * x) / n;',
    '    const t = term / (2 * n + 1);',
    '    sum += t;',
    '    if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;',
    '  }',
    '  return (2 / Math.sqrt(Math.PI)) * sum;',
    '};',
  ].join('\n');
}

const MATH: Partial<Record<Intrinsic, string>> = {
  exp: 'exp', log: 'log', sqrt: 'sqrt', abs: 'abs', sin: 'sin', cos: 'cos', tanh: 'tanh', pow: 'pow', log1p: 'log1p', expm1: 'expm1',
  round: 'round', sign: 'sign', tan: 'tan', atan: 'atan', atan2: 'atan2', asin: 'asin', acos: 'acos', sinh: 'sinh', cosh: 'cosh',
  asinh: 'asinh', acosh: 'acosh', atanh: 'atanh', log2: 'log2', log10: 'log10', cbrt: 'cbrt',
};

export function jsLanguage(typed: boolean): CLanguage {
  return {
    infix: { '==': { text: '===', prec: PREC.eq }, '!=': { text: '!==', prec: PREC.eq }, rem: { text: '%', prec: PREC.mul } },
    binary: {
      floordiv: (a, b) => callOf('Math.floor', [{ text: `${wrap(a, PREC.mul)} / ${wrap(b, PREC.mul + 1)}`, prec: PREC.mul }]),
      ceildiv: (a, b) => callOf('Math.ceil', [{ text: `${wrap(a, PREC.mul)} / ${wrap(b, PREC.mul + 1)}`, prec: PREC.mul }]),
      // floor modulo from the truncating %: ((a % b) + b) % b
      mod: (a, b) => ({ text: `((${wrap(a, PREC.mul)} % ${wrap(b, PREC.mul + 1)}) + ${wrap(b, PREC.add + 1)}) % ${wrap(b, PREC.mul + 1)}`, prec: PREC.mul }),
      min: (a, b) => callOf('Math.min', [a, b]),
      max: (a, b) => callOf('Math.max', [a, b]),
    },
    constant: jsNumber,
    // numbers are numbers: only a boolean needs converting (+(a > b) sets a flag, no branch)
    cast: (a, to, from) => (from === 'bool' && to !== 'bool' ? { text: `+(${a.text})`, prec: PREC.unary } : to === 'i32' && isFloat(from) ? callOf('Math.trunc', [a]) : a),
    select: (cond, then, otherwise) => ({ text: `${wrap(cond, PREC.or)} ? ${wrap(then, PREC.select)} : ${wrap(otherwise, PREC.select)}`, prec: PREC.select }),
    load: (buf, index) => atom(`${buf}[${index.text}]${typed ? '!' : ''}`),
    call: (fn, args) => {
      const helper = JS_HELPERS[fn];
      if (helper) return callOf(helper.name, args);
      return callOf(`Math.${MATH[fn]!}`, args);
    },
    length: (buf) => atom(`${buf}.length`),
    floor: (a) => callOf('Math.floor', [a]),
    ceil: (a) => callOf('Math.ceil', [a]),
  };
}

export interface JsContext {
  readonly namer: Namer;
  readonly typed: boolean;
  /** the local that holds a micro-kernel module's instance (`$W64`) */
  readonly instance: (m: MicroModule) => string;
  /** the spelling of a module-scope scratch buffer (shared by every call of every kernel) */
  readonly moduleScratch: (name: string, elem: string) => string;
}

const ARRAY: Record<string, string> = { f64: 'Float64Array', f32: 'Float32Array', i32: 'Int32Array', u8: 'Uint8Array' };

/** The statements as lines of JavaScript (TypeScript when typed), indented by `indent`. */
export function printJsStatements(body: readonly LStmt[], ctx: JsContext, indent = ''): string[] {
  const lang = jsLanguage(ctx.typed);
  const name = (x: Parameters<JsContext['namer']['of']>[0]) => ctx.namer.of(x);
  const ex = (e: LExpr) => printExpr(e, lang, name).text;
  const out: string[] = [];
  for (const s of body) {
    switch (s.kind) {
      case 'for': {
        const v = name(s.v);
        // trailing pointer advances `p = p + e` of the body go to the header's update clause, where
        // e reads no array and nothing the body binds (the header sees only what is outside the body)
        const local = new Set(s.body.flatMap((t) => (t.kind === 'let' ? [t.v] : [])));
        let end = s.body.length;
        while (end > 0) {
          const t = s.body[end - 1]!;
          if (t.kind !== 'assign' || t.v === s.v || !isAdvance(t, local)) break;
          end--;
        }
        const updates = s.body.slice(end).map((t) => assignText(t as Extract<LStmt, { kind: 'assign' }>, name, ex));
        const step = s.step.kind === 'const' && s.step.value === 1 ? `${v}++` : `${v} += ${ex(s.step)}`;
        out.push(`${indent}for (let ${v} = ${ex(s.lo)}; ${v} < ${ex(s.hi)}; ${[step, ...updates].join(', ')}) {`);
        out.push(...printJsStatements(s.body.slice(0, end), ctx, indent + '  '));
        out.push(`${indent}}`);
        break;
      }
      case 'let':
        out.push(`${indent}${s.mutable ? 'let' : 'const'} ${name(s.v)} = ${ex(s.init)};`);
        break;
      case 'assign':
        out.push(`${indent}${assignText(s, name, ex)};`);
        break;
      case 'store':
        out.push(`${indent}${name(s.buf)}[${ex(s.index)}] = ${ex(s.value)};`);
        break;
      case 'if': {
        out.push(`${indent}if (${ex(s.cond)}) {`);
        out.push(...printJsStatements(s.then, ctx, indent + '  '));
        if (s.else.length) {
          out.push(`${indent}} else {`);
          out.push(...printJsStatements(s.else, ctx, indent + '  '));
        }
        out.push(`${indent}}`);
        break;
      }
      case 'alloc': {
        const arr = ARRAY[s.buf.elem]!;
        if (s.scope === 'call') {
          out.push(`${indent}const ${name(s.buf)} = new ${arr}(${ex(s.size)});`);
          break;
        }
        // module (and, until there are threads, thread) scope: one array grown on demand, reused by
        // every call — kernels run to completion and call nothing that could re-enter them
        const g = ctx.moduleScratch(s.buf.name, s.buf.elem);
        const size = wrap(printExpr(s.size, lang, name), PREC.rel + 1);
        out.push(`${indent}if (${g}.length < ${size}) ${g} = new ${arr}(${ex(s.size)});`);
        if (s.zero) out.push(`${indent}else ${g}.fill(0, 0, ${ex(s.size)});`);
        out.push(`${indent}const ${name(s.buf)} = ${g};`);
        break;
      }
      case 'view': {
        const arr = ARRAY[s.buf.elem]!;
        out.push(`${indent}const ${name(s.buf)} = new ${arr}(${[`${ctx.instance(s.module)}.mem.buffer`, ex(s.offset), ...(s.count ? [ex(s.count)] : [])].join(', ')});`);
        break;
      }
      case 'copy':
        out.push(`${indent}${name(s.dst)}.set(${name(s.src)}.subarray(${ex(s.srcAt)}, ${printExpr({ kind: 'binary', ty: 'i32', op: '+', a: s.srcAt, b: s.count }, lang, name).text}), ${ex(s.dstAt)});`);
        break;
      case 'fill':
        out.push(`${indent}${name(s.buf)}.fill(${ex(s.value)}, ${ex(s.from)}, ${ex(s.to)});`);
        break;
      case 'microkernel':
        out.push(`${indent}${ctx.instance(s.module)}.${s.fn}(${s.args.map(ex).join(', ')});`);
        break;
      case 'choose':
        out.push(`${indent}const ${name(s.buf)} = ${ex(s.cond)} ? ${name(s.then)} : ${name(s.else)};`);
        break;
      case 'block':
        out.push(`${indent}{`);
        out.push(...printJsStatements(s.body, ctx, indent + '  '));
        out.push(`${indent}}`);
        break;
      case 'comment':
        out.push(`${indent}// ${commentText(s.text)}`);
        break;
      case 'fail': {
        // the text between the values, each a string literal: no program text is ever code
        const parts = s.text.split(/\u0000(\d+)\u0000/).map((x, k) => (k % 2 ? `String(${ex(s.values[Number(x)]!)})` : stringLiteral(x)));
        out.push(`${indent}throw new RangeError(${parts.filter((x) => x !== '""').join(' + ')});`);
        break;
      }
      case 'linalg':
        out.push(`${indent}${LINALG_NAME}(${stringLiteral(s.fn)}, ${name(s.src)}, ${ex(s.n)}, ${name(s.dst)}, ${stringLiteral(s.what)});`);
        break;
      case 'barrier':
        throw new Error('internal: a barrier has no JavaScript form (WebGPU kernels only)');
      default:
        assertNever(s);
    }
  }
  return out;
}

/** `p = p ± e` with e a constant or a variable bound outside the loop body. */
function isAdvance(s: Extract<LStmt, { kind: 'assign' }>, local: ReadonlySet<unknown>): boolean {
  const x = s.value;
  if (x.kind !== 'binary' || (x.op !== '+' && x.op !== '-') || x.a.kind !== 'var' || x.a.v !== s.v || x.ty !== 'i32') return false;
  return x.b.kind === 'const' || (x.b.kind === 'var' && !local.has(x.b.v));
}

/** `v = v + e` as `v += e` (and −, *), else `v = e`. */
function assignText(s: Extract<LStmt, { kind: 'assign' }>, name: (x: Parameters<JsContext['namer']['of']>[0]) => string, ex: (e: LExpr) => string): string {
  const v = name(s.v);
  const x = s.value;
  if (x.kind === 'binary' && (x.op === '+' || x.op === '-' || x.op === '*') && x.a.kind === 'var' && x.a.v === s.v) {
    // the right operand as it would print on its own (a compound assignment binds loosest)
    if (x.op === '+' && x.b.kind === 'const' && x.b.value === 1 && x.ty === 'i32') return `${v}++`;
    return `${v} ${x.op}= ${ex(x.b)}`;
  }
  return `${v} = ${ex(x)}`;
}
