// assembleWasm: a WebAssembly module of a few functions, written as instructions in data → its binary.
//
// Worked example: the function `dot2(p: i32) -> nothing` that doubles the two float64 at p,
//   { params: [['p', 'i32']], locals: [], body: [
//       ['local.get', 'p'], ['local.get', 'p'], ['v128.load', 0], ['local.get', 'p'], ['v128.load', 0],
//       ['f64x2.add'], ['v128.store', 0]] }
// assembles to `\0asm` 1 0 0 0, a type section (func (param i32)), a function section, a memory
// section (the module's own memory, `pages` 64 KiB pages to start with, growable, exported as
// "memory"), an export section ("run", or each function's name, and "memory") and the code section.
// The table below is the single place an opcode is written down, with the numbers of the
// WebAssembly core spec 2.0 (§5.4): one byte, or a prefix byte (0xfc bulk memory and saturating
// truncation, 0xfd SIMD) and the opcode as LEB128. It holds what printWasm.ts prints and the
// micro-kernels need, not the whole instruction set.
// `watOf` prints the same function as WebAssembly text, for docs and for reading what was emitted.

export type WasmType = 'i32' | 'f32' | 'f64' | 'v128';
type Immediate = 'none' | 'local' | 'i32' | 'f32' | 'f64' | 'label' | 'memarg' | 'block' | 'v128-zero' | 'memory' | 'memories' | 'lane' | 'func' | 'shuffle';
interface OpInfo {
  readonly code: readonly number[];
  readonly imm: Immediate;
  /** a memory access's natural alignment, log2 bytes (the memarg's alignment hint) */
  readonly align?: number;
}

const op = (code: number, imm: Immediate = 'none'): OpInfo => ({ code: [code], imm });
const mem = (code: number, align: number): OpInfo => ({ code: [code], imm: 'memarg', align });
/** 0xfc-prefixed: bulk memory and the saturating truncations */
const misc = (code: number, imm: Immediate = 'none'): OpInfo => ({ code: [0xfc, ...uleb(code)], imm });
/** 0xfd-prefixed: 128-bit SIMD (spec numbers are decimal; LEB128 makes 228 the bytes e4 01) */
const simd = (code: number, imm: Immediate = 'none', align?: number): OpInfo => ({ code: [0xfd, ...uleb(code)], imm, ...(align === undefined ? {} : { align }) });

const OPCODES = {
  // control
  unreachable: op(0x00),
  block: op(0x02, 'block'),
  loop: op(0x03, 'block'),
  if: op(0x04, 'block'),
  else: op(0x05),
  end: op(0x0b),
  br: op(0x0c, 'label'),
  br_if: op(0x0d, 'label'),
  return: op(0x0f),
  /** a call of an imported function, named `module.name` */
  call: op(0x10, 'func'),
  // parametric
  drop: op(0x1a),
  select: op(0x1b),
  // variables
  'local.get': op(0x20, 'local'),
  'local.set': op(0x21, 'local'),
  'local.tee': op(0x22, 'local'),
  // memory
  'i32.load': mem(0x28, 2),
  'f32.load': mem(0x2a, 2),
  'f64.load': mem(0x2b, 3),
  'i32.load8_u': mem(0x2d, 0),
  'i32.store': mem(0x36, 2),
  'f32.store': mem(0x38, 2),
  'f64.store': mem(0x39, 3),
  'i32.store8': mem(0x3a, 0),
  'memory.size': op(0x3f, 'memory'),
  'memory.copy': misc(10, 'memories'),
  'memory.fill': misc(11, 'memory'),
  // constants
  'i32.const': op(0x41, 'i32'),
  'f32.const': op(0x43, 'f32'),
  'f64.const': op(0x44, 'f64'),
  // i32 comparisons
  'i32.eqz': op(0x45),
  'i32.eq': op(0x46),
  'i32.ne': op(0x47),
  'i32.lt_s': op(0x48),
  'i32.lt_u': op(0x49),
  'i32.gt_s': op(0x4a),
  'i32.gt_u': op(0x4b),
  'i32.le_s': op(0x4c),
  'i32.le_u': op(0x4d),
  'i32.ge_s': op(0x4e),
  'i32.ge_u': op(0x4f),
  // float comparisons
  'f32.eq': op(0x5b),
  'f32.ne': op(0x5c),
  'f32.lt': op(0x5d),
  'f32.gt': op(0x5e),
  'f32.le': op(0x5f),
  'f32.ge': op(0x60),
  'f64.eq': op(0x61),
  'f64.ne': op(0x62),
  'f64.lt': op(0x63),
  'f64.gt': op(0x64),
  'f64.le': op(0x65),
  'f64.ge': op(0x66),
  // i32 arithmetic
  'i32.add': op(0x6a),
  'i32.sub': op(0x6b),
  'i32.mul': op(0x6c),
  'i32.div_s': op(0x6d),
  'i32.div_u': op(0x6e),
  'i32.rem_s': op(0x6f),
  'i32.rem_u': op(0x70),
  'i32.and': op(0x71),
  'i32.or': op(0x72),
  'i32.xor': op(0x73),
  'i32.shl': op(0x74),
  'i32.shr_s': op(0x75),
  'i32.shr_u': op(0x76),
  // float arithmetic
  'f32.abs': op(0x8b),
  'f32.neg': op(0x8c),
  'f32.ceil': op(0x8d),
  'f32.floor': op(0x8e),
  'f32.sqrt': op(0x91),
  'f32.add': op(0x92),
  'f32.sub': op(0x93),
  'f32.mul': op(0x94),
  'f32.div': op(0x95),
  'f32.min': op(0x96),
  'f32.max': op(0x97),
  'f64.abs': op(0x99),
  'f64.neg': op(0x9a),
  'f64.ceil': op(0x9b),
  'f64.floor': op(0x9c),
  'f64.sqrt': op(0x9f),
  'f64.add': op(0xa0),
  'f64.sub': op(0xa1),
  'f64.mul': op(0xa2),
  'f64.div': op(0xa3),
  'f64.min': op(0xa4),
  'f64.max': op(0xa5),
  // conversions (float → i32 saturates: NaN is 0, out of range the nearest end, never a trap)
  'f32.convert_i32_s': op(0xb2),
  'f32.convert_i32_u': op(0xb3),
  'f32.demote_f64': op(0xb6),
  'f64.convert_i32_s': op(0xb7),
  'f64.convert_i32_u': op(0xb8),
  'f64.promote_f32': op(0xbb),
  'i32.trunc_sat_f32_s': misc(0),
  'i32.trunc_sat_f64_s': misc(2),
  // SIMD memory
  'v128.load': simd(0, 'memarg', 4),
  'v128.load32_splat': simd(9, 'memarg', 2),
  'v128.load64_splat': simd(10, 'memarg', 3),
  'v128.store': simd(11, 'memarg', 4),
  'v128.const': simd(12, 'v128-zero'),
  // SIMD lanes
  'i32x4.splat': simd(17),
  'f32x4.splat': simd(19),
  'f64x2.splat': simd(20),
  'i8x16.shuffle': simd(13, 'shuffle'),
  'i32x4.extract_lane': simd(27, 'lane'),
  'f32x4.extract_lane': simd(31, 'lane'),
  'f32x4.replace_lane': simd(32, 'lane'),
  'f64x2.extract_lane': simd(33, 'lane'),
  'f64x2.replace_lane': simd(34, 'lane'),
  // lane comparisons: all ones where they hold, zeros where not
  'i32x4.eq': simd(55),
  'i32x4.ne': simd(56),
  'i32x4.lt_s': simd(57),
  'i32x4.gt_s': simd(59),
  'i32x4.le_s': simd(61),
  'i32x4.ge_s': simd(63),
  'f32x4.eq': simd(65),
  'f32x4.ne': simd(66),
  'f32x4.lt': simd(67),
  'f32x4.gt': simd(68),
  'f32x4.le': simd(69),
  'f32x4.ge': simd(70),
  'f64x2.eq': simd(71),
  'f64x2.ne': simd(72),
  'f64x2.lt': simd(73),
  'f64x2.gt': simd(74),
  'f64x2.le': simd(75),
  'f64x2.ge': simd(76),
  'v128.not': simd(77),
  'v128.and': simd(78),
  'v128.or': simd(80),
  'v128.xor': simd(81),
  'v128.bitselect': simd(82),
  // SIMD arithmetic
  'f32x4.ceil': simd(103),
  'f32x4.floor': simd(104),
  'f32x4.nearest': simd(106),
  'f64x2.ceil': simd(116),
  'f64x2.floor': simd(117),
  'i32x4.abs': simd(160),
  'i32x4.neg': simd(161),
  'i32x4.shl': simd(171),
  'i32x4.shr_s': simd(172),
  'i32x4.add': simd(174),
  'i32x4.sub': simd(177),
  'i32x4.mul': simd(181),
  'i32x4.min_s': simd(182),
  'i32x4.max_s': simd(184),
  'f32x4.abs': simd(224),
  'f32x4.neg': simd(225),
  'f32x4.sqrt': simd(227),
  'f32x4.add': simd(228),
  'f32x4.sub': simd(229),
  'f32x4.mul': simd(230),
  'f32x4.div': simd(231),
  'f32x4.min': simd(232),
  'f32x4.max': simd(233),
  'f64x2.abs': simd(236),
  'f64x2.neg': simd(237),
  'f64x2.sqrt': simd(239),
  'f64x2.add': simd(240),
  'f64x2.sub': simd(241),
  'f64x2.mul': simd(242),
  'f64x2.div': simd(243),
  'f64x2.min': simd(244),
  'f64x2.max': simd(245),
  'i32x4.trunc_sat_f32x4_s': simd(248),
  'f32x4.convert_i32x4_s': simd(250),
  'f32x4.demote_f64x2_zero': simd(94),
  'f64x2.promote_low_f32x4': simd(95),
} as const satisfies Record<string, OpInfo>;

export type Op = keyof typeof OPCODES;
/** [op] or [op, immediate]: a local's name, a constant, a label depth, a memory offset in bytes,
 * a block's result type (none: a block of no result) */
export type Instr = readonly [Op] | readonly [Op, string | number];

export interface WasmFunction {
  readonly params: readonly (readonly [string, WasmType])[];
  readonly locals: readonly (readonly [string, WasmType])[];
  readonly body: readonly Instr[];
}

const TYPE_CODE: Record<WasmType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** unsigned LEB128 */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** signed LEB128 of an int32 */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** an IEEE float, little-endian, as the const instructions take it */
function floatBytes(x: number, bytes: 4 | 8): number[] {
  const view = new DataView(new ArrayBuffer(bytes));
  if (bytes === 4) view.setFloat32(0, x, true);
  else view.setFloat64(0, x, true);
  return [...new Uint8Array(view.buffer)];
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, payload: number[]): number[] => [id, ...uleb(payload.length), ...payload];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

function encodeBody(f: WasmFunction, funcIndex: ReadonlyMap<string, number>): number[] {
  const index = new Map<string, number>();
  [...f.params, ...f.locals].forEach(([n], i) => {
    if (index.has(n)) throw new Error(`internal: wasm local ${n} declared twice`);
    index.set(n, i);
  });
  const out: number[] = [];
  // locals are declared in runs of one type
  const runs: [number, WasmType][] = [];
  for (const [, t] of f.locals) {
    const last = runs[runs.length - 1];
    if (last && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  out.push(...vec(runs.map(([n, t]) => [...uleb(n), TYPE_CODE[t]])));
  for (const [o, arg] of f.body) {
    const { code, imm, align } = OPCODES[o] as OpInfo;
    out.push(...code);
    switch (imm) {
      case 'none':
        break;
      case 'block': {
        // the empty block type, or one result
        const t = arg === undefined ? undefined : TYPE_CODE[arg as WasmType];
        if (arg !== undefined && t === undefined) throw new Error(`internal: wasm block type ${String(arg)}`);
        out.push(t ?? 0x40);
        break;
      }
      case 'local': {
        const i = index.get(String(arg));
        if (i === undefined) throw new Error(`internal: wasm local ${String(arg)} is not declared`);
        out.push(...uleb(i));
        break;
      }
      case 'i32':
        out.push(...sleb(Number(arg)));
        break;
      case 'f32':
        out.push(...floatBytes(Number(arg), 4));
        break;
      case 'f64':
        out.push(...floatBytes(Number(arg), 8));
        break;
      case 'label':
      case 'lane':
        out.push(...uleb(Number(arg)));
        break;
      case 'func': {
        const i = funcIndex.get(String(arg));
        if (i === undefined) throw new Error(`internal: wasm function ${String(arg)} is not declared`);
        out.push(...uleb(i));
        break;
      }
      case 'memarg': {
        // alignment hint (log2 of the natural access size), then the constant offset
        out.push(...uleb(align!), ...uleb(Number(arg ?? 0)));
        break;
      }
      case 'v128-zero':
        out.push(...new Array<number>(16).fill(0));
        break;
      case 'shuffle':
        // the 16 byte lanes chosen from a (0–15) and b (16–31), written as one string
        out.push(...String(arg).split(' ').map(Number));
        break;
      case 'memory':
        out.push(0x00);
        break;
      case 'memories':
        out.push(0x00, 0x00);
        break;
      default: {
        const never: never = imm;
        throw new Error(`internal: immediate ${String(never)}`);
      }
    }
  }
  out.push(0x0b);
  return out;
}

/** A function the module imports (the host's `Math.exp` …), called as `module.name`. */
export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly params: readonly WasmType[];
  readonly results: readonly WasmType[];
}

/** The module: its functions exported by name (a lone function as "run"), one memory of `pages`
 * pages to start with, exported as "memory"; it may grow (views of it must then be made again).
 * Imported functions come first in the function index space, as the spec says. With `shared` the
 * memory is imported instead: env.memory, a shared memory the threads' tensors live in (still
 * exported as "memory"; `pages` is then unused). */
export function assembleWasm(f: WasmFunction | Readonly<Record<string, WasmFunction>>, pages: number, imports: readonly WasmImport[] = [], shared = false): Uint8Array {
  const fns = Object.entries('body' in f ? { run: f as WasmFunction } : f);
  const funcIndex = new Map<string, number>([...imports.map((m, i) => [`${m.module}.${m.name}`, i] as const), ...fns.map(([n], i) => [n, imports.length + i] as const)]);
  const bodies = fns.map(([, g]) => encodeBody(g, funcIndex));
  const types = [...imports.map((m) => [0x60, ...vec(m.params.map((t) => [TYPE_CODE[t]])), ...vec(m.results.map((t) => [TYPE_CODE[t]]))]), ...fns.map(([, g]) => [0x60, ...vec(g.params.map(([, t]) => [TYPE_CODE[t]])), ...vec([])])];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...(imports.length || shared ? section(2, vec([...imports.map((m, i) => [...name(m.module), ...name(m.name), 0x00, ...uleb(i)]), ...(shared ? [SHARED_MEMORY_IMPORT] : [])])) : []),
    ...section(3, vec(fns.map((_, i) => uleb(imports.length + i)))),
    // memory: a minimum and no maximum (an imported one is not defined here)
    ...(shared ? [] : section(5, vec([[0x00, ...uleb(pages)]]))),
    ...section(7, vec([...fns.map(([n], i) => [...name(n), 0x00, ...uleb(imports.length + i)]), [...name('memory'), 0x02, 0x00]])),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ];
  return Uint8Array.from(bytes);
}

/** env.memory: limits flag 3 (shared, with a maximum), at least 1 page and at most 65 536 (4 GiB, as
 * a shared memory must declare one): any shared memory the host made fits (§5.3.8, import matching). */
const SHARED_MEMORY_IMPORT: number[] = [...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)];

/** The function as WebAssembly text: one instruction per line, blocks indented. */
export function watOf(f: WasmFunction, exportName = 'run'): string {
  const lines = [`(func (export "${exportName}") ${f.params.map(([n, t]) => `(param $${n} ${t})`).join(' ')}`];
  for (const [n, t] of f.locals) lines.push(`  (local $${n} ${t})`);
  let depth = 1;
  for (const [o, arg] of f.body) {
    if (o === 'end' || o === 'else') depth--;
    const kind = OPCODES[o].imm;
    const imm =
      kind === 'v128-zero'
        ? ' i64x2 0 0'
        : arg === undefined
          ? ''
          : kind === 'local'
            ? ` $${arg}`
            : kind === 'memarg'
              ? arg
                ? ` offset=${arg}`
                : ''
              : kind === 'block'
                ? ` (result ${arg})`
                : ` ${arg}`;
    lines.push(`${'  '.repeat(depth)}${o}${imm}`);
    if (o === 'block' || o === 'loop' || o === 'if' || o === 'else') depth++;
  }
  lines.push(')');
  return lines.join('\n');
}
