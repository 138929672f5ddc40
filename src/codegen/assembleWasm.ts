// assembleWasm: a WebAssembly module of a few functions, written as instructions in data → its binary.
//
// Worked example: the function `dot2(p: i32) -> nothing` that doubles the two float64 at p,
//   { params: [['p', 'i32']], locals: [], body: [
//       ['local.get', 'p'], ['local.get', 'p'], ['v128.load', 0], ['local.get', 'p'], ['v128.load', 0],
//       ['f64x2.add'], ['v128.store', 0]] }
// assembles to `\0asm` 1 0 0 0, a type section (func (param i32)), a function section, a memory
// section (the module's own memory, `pages` 64 KiB pages to start with, growable, exported as
// "memory"), an export section ("run", or each function's name, and "memory") and the code section.
// Only the instructions the GEMM micro-kernel and the packing kernels need are in the table; the
// table is the single place an opcode is written down (numbers from the WebAssembly core spec 2.0,
// SIMD opcodes after the 0xfd prefix as LEB128).
// `watOf` prints the same function as WebAssembly text, for docs and for reading what was emitted.

export type WasmType = 'i32' | 'v128';
type Immediate = 'none' | 'local' | 'i32' | 'label' | 'memarg' | 'void-block' | 'v128-zero' | 'memories';

/** opcode bytes and the immediate each instruction takes */
const OPCODES = {
  block: { code: [0x02], imm: 'void-block' },
  loop: { code: [0x03], imm: 'void-block' },
  if: { code: [0x04], imm: 'void-block' },
  else: { code: [0x05], imm: 'none' },
  end: { code: [0x0b], imm: 'none' },
  br_if: { code: [0x0d], imm: 'label' },
  'local.get': { code: [0x20], imm: 'local' },
  'local.set': { code: [0x21], imm: 'local' },
  'local.tee': { code: [0x22], imm: 'local' },
  'i32.load': { code: [0x28], imm: 'memarg', align: 2 },
  'f32.load': { code: [0x2a], imm: 'memarg', align: 2 },
  'f64.load': { code: [0x2b], imm: 'memarg', align: 3 },
  'f32.store': { code: [0x38], imm: 'memarg', align: 2 },
  'f64.store': { code: [0x39], imm: 'memarg', align: 3 },
  'i32.const': { code: [0x41], imm: 'i32' },
  'i32.eqz': { code: [0x45], imm: 'none' },
  'i32.eq': { code: [0x46], imm: 'none' },
  'i32.ne': { code: [0x47], imm: 'none' },
  'i32.lt_u': { code: [0x49], imm: 'none' },
  'i32.add': { code: [0x6a], imm: 'none' },
  'i32.sub': { code: [0x6b], imm: 'none' },
  'i32.mul': { code: [0x6c], imm: 'none' },
  'i32.and': { code: [0x71], imm: 'none' },
  'i32.shl': { code: [0x74], imm: 'none' },
  // bulk memory: copy (dst, src, bytes) within memory 0
  'memory.copy': { code: [0xfc, 0x0a], imm: 'memories' },
  'v128.load': { code: [0xfd, 0x00], imm: 'memarg', align: 4 },
  'v128.load32_splat': { code: [0xfd, 0x09], imm: 'memarg', align: 2 },
  'v128.load64_splat': { code: [0xfd, 0x0a], imm: 'memarg', align: 3 },
  'v128.store': { code: [0xfd, 0x0b], imm: 'memarg', align: 4 },
  'v128.const': { code: [0xfd, 0x0c], imm: 'v128-zero' },
  'f32x4.add': { code: [0xfd, 0xe4, 0x01], imm: 'none' },
  'f32x4.mul': { code: [0xfd, 0xe6, 0x01], imm: 'none' },
  'f64x2.add': { code: [0xfd, 0xf0, 0x01], imm: 'none' },
  'f64x2.mul': { code: [0xfd, 0xf2, 0x01], imm: 'none' },
} as const satisfies Record<string, { code: readonly number[]; imm: Immediate; align?: number }>;

export type Op = keyof typeof OPCODES;
/** [op] or [op, immediate]: a local's name, a constant, a label depth, a memory offset in bytes */
export type Instr = readonly [Op] | readonly [Op, string | number];

export interface WasmFunction {
  readonly params: readonly (readonly [string, WasmType])[];
  readonly locals: readonly (readonly [string, WasmType])[];
  readonly body: readonly Instr[];
}

const TYPE_CODE: Record<WasmType, number> = { i32: 0x7f, v128: 0x7b };

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

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, payload: number[]): number[] => [id, ...uleb(payload.length), ...payload];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

function encodeBody(f: WasmFunction): number[] {
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
  for (const [op, arg] of f.body) {
    const { code, imm, align } = OPCODES[op] as { code: readonly number[]; imm: Immediate; align?: number };
    out.push(...code);
    switch (imm) {
      case 'none':
        break;
      case 'void-block':
        out.push(0x40);
        break;
      case 'local': {
        const i = index.get(String(arg));
        if (i === undefined) throw new Error(`internal: wasm local ${String(arg)} is not declared`);
        out.push(...uleb(i));
        break;
      }
      case 'i32':
        out.push(...sleb(Number(arg)));
        break;
      case 'label':
        out.push(...uleb(Number(arg)));
        break;
      case 'memarg': {
        // alignment hint: log2 of the natural access size
        out.push(...uleb(align!), ...uleb(Number(arg ?? 0)));
        break;
      }
      case 'v128-zero':
        out.push(...new Array<number>(16).fill(0));
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

/** The module: its functions exported by name (a lone function as "run"), one memory of `pages`
 * pages to start with, exported as "memory"; it may grow (views of it must then be made again). */
export function assembleWasm(f: WasmFunction | Readonly<Record<string, WasmFunction>>, pages: number): Uint8Array {
  const fns = Object.entries('body' in f ? { run: f as WasmFunction } : f);
  const bodies = fns.map(([, g]) => encodeBody(g));
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(fns.map(([, g]) => [0x60, ...vec(g.params.map(([, t]) => [TYPE_CODE[t]])), ...vec([])]))),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    // memory: a minimum and no maximum
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(7, vec([...fns.map(([n], i) => [...name(n), 0x00, ...uleb(i)]), [...name('memory'), 0x02, 0x00]])),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ];
  return Uint8Array.from(bytes);
}

/** The function as WebAssembly text: one instruction per line, blocks indented. */
export function watOf(f: WasmFunction, exportName = 'run'): string {
  const lines = [`(func (export "${exportName}") ${f.params.map(([n, t]) => `(param $${n} ${t})`).join(' ')}`];
  for (const [n, t] of f.locals) lines.push(`  (local $${n} ${t})`);
  let depth = 1;
  for (const [op, arg] of f.body) {
    if (op === 'end' || op === 'else') depth--;
    const imm =
      arg === undefined ? '' : OPCODES[op].imm === 'local' ? ` $${arg}` : OPCODES[op].imm === 'memarg' ? (arg ? ` offset=${arg}` : '') : ` ${arg}`;
    lines.push(`${'  '.repeat(depth)}${op}${op === 'v128.const' ? ' i64x2 0 0' : imm}`);
    if (op === 'block' || op === 'loop' || op === 'if' || op === 'else') depth++;
  }
  lines.push(')');
  return lines.join('\n');
}
