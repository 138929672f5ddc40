// printWgsl: a legalised GPU kernel (legaliseWgsl.ts) → the text of a WebGPU compute shader.
//
// Worked example, Y[i] = relu(X[i]) (one invocation per element, sizes I):
//   // Y[i] = relu(X[i])
//   struct Sizes { s0: i32 }
//   @group(0) @binding(0) var<uniform> sizes: Sizes;
//   @group(0) @binding(1) var<storage, read_write> Y: array<f32>;
//   @group(0) @binding(2) var<storage, read> X: array<f32>;
//   fn dg_relu(x: f32) -> f32 { return select(0f, x, x > 0f); }
//   @compute @workgroup_size(64)
//   fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>,
//           @builtin(local_invocation_index) local_index: u32) {
//     let I: i32 = sizes.s0;
//     let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
//     let lid: i32 = i32(local_index);
//     let flat: i32 = wid * 64 + lid;
//     if (flat < I) { let i: i32 = flat; Y[i] = dg_relu(X[i]); }
//   }
// Binding 0 holds the sizes (when the kernel has any), then one storage buffer per tensor in the
// kernel's order; `alias` prints a tensor's reads from another's binding (an input updated in place:
// WebGPU refuses two bindings of one buffer when one is written).
import { commentText } from '../../codegen/safeText.js';
import { walkStmts } from '../../loop/mapLoop.js';
import { assertNever, type Buf, type LExpr, type LStmt, type Sym, type Ty } from '../../loop/types.js';
import { printExpr } from '../cstyle.js';
import { Namer } from '../names.js';
import type { WgslLaunch } from './legaliseWgsl.js';
import { WGSL_HELPERS, wgslLanguage } from './wgslLanguage.js';

/** WGSL's keywords and reserved words, the built-in functions and types a kernel may call, and the
 * names the printer itself declares: no symbol is spelt as one of them. */
export const WGSL_RESERVED = new Set([
  ...'alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let loop override requires return struct switch true var while'.split(' '),
  ...[
    'NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become cast',
    'catch class co_await co_return co_yield coherent column_major common compile compile_fragment',
    'concept const_cast consteval constexpr constinit crate debugger decltype delete demote',
    'demote_to_helper do dynamic_cast enum explicit export extends extern external fallthrough filter',
    'final finally friend from fxgroup get goto groupshared highp impl implements import inline',
    'instanceof interface layout lowp macro macro_rules match mediump meta mod module move mut mutable',
    'namespace new nil noexcept noinline nointerpolation noperspective null nullptr of operator package',
    'packoffset partition pass patch pixelfragment precise precision premerge priv protected pub public',
    'readonly ref regardless register reinterpret_cast require resource restrict self set shared sizeof',
    'smooth snorm static static_assert static_cast std subroutine super target template this thread_local',
    'throw trait try type typedef typeid typename typeof union unless unorm unsafe unsized use using',
    'varying virtual volatile wgsl where with writeonly yield',
  ].join(' ').split(' '),
  ...'i32 u32 f32 f16 bool vec2 vec3 vec4 mat2x2 mat3x3 mat4x4 array atomic ptr sampler texture_2d'.split(' '),
  ...'exp log sqrt abs sin cos tanh pow floor ceil fract round min max select bitcast arrayLength workgroupBarrier storageBarrier'.split(' '),
  ...Object.keys(WGSL_HELPERS).flatMap((h) => [h, `${h}_bits`]),
  ...'main Sizes sizes wg_id wg_count local_index'.split(' '),
]);

const TYPE: Record<string, string> = { i32: 'i32', f32: 'f32', bool: 'bool' };
const typeOf = (t: Ty): string => {
  const x = TYPE[t];
  if (!x) throw new Error(`internal: WGSL has no ${t}`);
  return x;
};

/** A spelling hint WGSL accepts: no `$`, no leading `_` (a name may not start with `__`). */
const hint = (name: string) => name.replace(/^[$_]+/, '').replace(/\$/g, '_') || 'v';

export interface PrintOptions {
  /** tensors read from another tensor's binding (input key → output key) */
  readonly alias?: ReadonlyMap<string, string>;
}

export function printWgsl(launch: WgslLaunch, opts: PrintOptions = {}): string {
  const k = launch.kernel;
  const namer = new Namer({ reserved: WGSL_RESERVED, dollar: false });
  const spelled = new Map<Sym | Buf, string>();
  const name = (x: Sym | Buf): string => {
    let n = spelled.get(x);
    if (n === undefined) {
      n = namer.fresh(hint(x.name));
      spelled.set(x, n);
    }
    return n;
  };
  const alias = opts.alias ?? new Map<string, string>();
  const byKey = new Map(k.buffers.map((b) => [b.key, b.buf] as const));
  for (const [from, to] of alias) {
    const src = byKey.get(from);
    const dst = byKey.get(to);
    if (src && dst) spelled.set(src, name(dst));
  }
  const lang = wgslLanguage(nonNegativeIn(launch));
  const ex = (e: LExpr) => printExpr(e, lang, name).text;
  const out: string[] = [`// ${commentText(k.formula)}`];
  let binding = 0;
  if (k.sizes.length) {
    out.push(`struct Sizes { ${k.sizes.map((_, i) => `s${i}: i32`).join(', ')} }`);
    out.push(`@group(0) @binding(${binding++}) var<uniform> sizes: Sizes;`);
  }
  for (const b of k.buffers) {
    if (alias.has(b.key) && byKey.has(alias.get(b.key)!)) continue;
    const elem = b.buf.elem === 'i32' ? 'i32' : b.buf.elem === 'f32' ? 'f32' : undefined;
    if (!elem) throw new Error(`internal: a ${b.buf.elem} tensor on WebGPU`);
    const written = b.role === 'write' || [...alias].some(([from, to]) => to === b.key && byKey.has(from));
    out.push(`@group(0) @binding(${binding++}) var<storage, ${written ? 'read_write' : 'read'}> ${name(b.buf)}: array<${elem}>;`);
  }
  for (const a of launch.shared) out.push(`var<workgroup> ${name(a.buf)}: array<${typeOf(a.buf.elem as Ty)}, ${(a.size as { value: number }).value}>;`);
  const main = [
    `@compute @workgroup_size(${launch.workgroupSize})`,
    'fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {',
    ...k.sizes.map((z, i) => `  let ${name(z.v)}: i32 = sizes.s${i};`),
    `  let ${name(launch.wid)}: i32 = i32(wg_id.x + wg_id.y * wg_count.x);`,
    `  let ${name(launch.lid)}: i32 = i32(local_index);`,
    ...statements(k.body, ex, name, '  '),
    '}',
  ];
  out.push(...helpersOf(main.join('\n')).map((h) => WGSL_HELPERS[h]!.text), ...main);
  return out.join('\n') + '\n';
}

/** What is ≥ 0 in the kernel: sizes, the ids, loop indices counting up from a value ≥ 0, and what
 * is made of them by + · ⌊/⌋ rem min max (immutable lets of such values included). */
function nonNegativeIn(launch: WgslLaunch): (e: LExpr) => boolean {
  const known = new Set<Sym>([...launch.kernel.sizes.map((z) => z.v), launch.wid, launch.lid]);
  const memo = new WeakMap<LExpr, boolean>();
  const test = (e: LExpr): boolean => {
    let r = memo.get(e);
    if (r !== undefined) return r;
    switch (e.kind) {
      case 'const':
        r = e.value >= 0;
        break;
      case 'var':
        r = known.has(e.v);
        break;
      case 'length':
        r = true;
        break;
      case 'binary':
        r = ['+', '*', 'floordiv', 'ceildiv', 'rem', 'mod', 'min'].includes(e.op) ? test(e.a) && test(e.b) : e.op === 'max' ? test(e.a) || test(e.b) : false;
        break;
      case 'select':
        r = test(e.then) && test(e.else);
        break;
      default:
        r = false;
    }
    memo.set(e, r);
    return r;
  };
  walkStmts(launch.kernel.body, (s) => {
    if (s.kind === 'for' && test(s.lo) && test(s.step)) known.add(s.v);
    if (s.kind === 'let' && !s.mutable && s.v.ty === 'i32' && test(s.init)) known.add(s.v);
  });
  return (e) => e.ty === 'i32' && test(e);
}

/** The helper functions the text calls, with those they call, in a fixed order. */
function helpersOf(text: string): string[] {
  const used = new Set<string>();
  const add = (h: string) => {
    if (used.has(h) || !WGSL_HELPERS[h]) return;
    used.add(h);
    for (const u of WGSL_HELPERS[h]!.uses ?? []) add(u);
  };
  for (const m of text.matchAll(/\bdg_[a-z0-9]+(?=\()/g)) add(m[0]);
  return Object.keys(WGSL_HELPERS).filter((h) => used.has(h));
}

function statements(body: readonly LStmt[], ex: (e: LExpr) => string, name: (x: Sym | Buf) => string, indent: string): string[] {
  const out: string[] = [];
  for (const s of body) {
    switch (s.kind) {
      case 'for': {
        const i = name(s.v);
        const step = s.step.kind === 'const' && s.step.value === 1 ? `${i}++` : `${i} += ${ex(s.step)}`;
        out.push(`${indent}for (var ${i}: i32 = ${ex(s.lo)}; ${i} < ${ex(s.hi)}; ${step}) {`, ...statements(s.body, ex, name, indent + '  '), `${indent}}`);
        break;
      }
      case 'let':
        out.push(`${indent}${s.mutable ? 'var' : 'let'} ${name(s.v)}: ${typeOf(s.v.ty)} = ${ex(s.init)};`);
        break;
      case 'assign': {
        const x = s.value;
        const compound = x.kind === 'binary' && (x.op === '+' || x.op === '-' || x.op === '*') && x.a.kind === 'var' && x.a.v === s.v;
        out.push(`${indent}${name(s.v)} ${compound ? `${x.op}= ${ex(x.b)}` : `= ${ex(x)}`};`);
        break;
      }
      case 'store':
        out.push(`${indent}${name(s.buf)}[${ex(s.index)}] = ${ex(s.value)};`);
        break;
      case 'if':
        out.push(`${indent}if (${ex(s.cond)}) {`, ...statements(s.then, ex, name, indent + '  '));
        if (s.else.length) out.push(`${indent}} else {`, ...statements(s.else, ex, name, indent + '  '));
        out.push(`${indent}}`);
        break;
      case 'block':
        out.push(`${indent}{`, ...statements(s.body, ex, name, indent + '  '), `${indent}}`);
        break;
      case 'comment':
        out.push(`${indent}// ${commentText(s.text)}`);
        break;
      case 'barrier':
        out.push(`${indent}workgroupBarrier();`);
        break;
      case 'alloc':
        // an invocation's own array; WGSL zeroes a variable declared without a value
        if (s.scope !== 'thread' || s.size.kind !== 'const') throw new Error(`internal: an allocation of ${s.scope} scope inside a WGSL kernel`);
        out.push(`${indent}var ${name(s.buf)}: array<${typeOf(s.buf.elem as Ty)}, ${s.size.value}>;`);
        break;
      case 'view':
      case 'copy':
      case 'fill':
      case 'microkernel':
      case 'choose':
        throw new Error(`internal: a ${s.kind} statement has no WGSL form`);
      case 'fail':
        throw new Error('internal: a data range check in a WGSL kernel (lowerGpuProgram refuses integer data)');
      case 'linalg':
        // the LU of det/logdet/inv runs on the CPU only (src/target/linalgHelper.ts)
        throw new Error(`the WebGPU target cannot compute ${s.fn}(${s.what}) yet: compile this program without { target: 'webgpu' }`);
      default:
        assertNever(s);
    }
  }
  return out;
}
