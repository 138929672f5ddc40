// buildGatherPack: packing the panels of an implicit im2col operand, as WebAssembly, for a dtype and
// a panel width R (lanes).
//
// Worked example, float64, R = 4 (the B panels of a convolution's columns):
//   pack(dst, src, ktab, side, kc, panels)
// packs `panels` whole panels one after another. Panel q reads its lanes' offsets s_r = side[4q + r]
// once, then for each of the kc contraction steps p, with kb = ktab[p],
//   dst[4p + r] = src[kb + s_r]          r = 0..3
// When the lanes are neighbours in src (s_r = s_0 + r: four columns of one image row of a stride-1
// convolution, or of a conv input gradient's residue class) a step is two v128 loads and stores
// instead of four scalar ones. The tables hold element offsets; src, ktab, side and dst are byte
// addresses in the module's memory. The caller packs a short last panel itself.
import type { Instr, WasmFunction } from '../target/wasm/assembleWasm.js';

export function buildGatherPack({ dtype, R }: { readonly dtype: 'float32' | 'float64'; readonly R: number }): WasmFunction {
  const es = dtype === 'float64' ? 8 : 4;
  const shift = dtype === 'float64' ? 3 : 2;
  const NV = (R * es) / 16;
  if (!Number.isInteger(NV)) throw new Error(`internal: a panel of ${R} ${dtype} is not a whole number of vectors`);
  const [load, store] = dtype === 'float64' ? (['f64.load', 'f64.store'] as const) : (['f32.load', 'f32.store'] as const);
  const lanes = Array.from({ length: R }, (_, r) => `s${r}`);
  const body: Instr[] = [];
  const emit = (...xs: Instr[]) => body.push(...xs);
  const get = (local: string): Instr => ['local.get', local];
  const set = (local: string, ...value: Instr[]) => emit(...value, ['local.set', local]);
  const k32 = (n: number): Instr => ['i32.const', n];
  /** one contraction step: kb = ktab[p] in bytes, `copy` moves the lanes, then dst and ktab advance */
  const steps = (copy: () => void) => {
    set('t', get('ktab'));
    set('p', get('kc'));
    emit(['loop']);
    set('kb', get('t'), ['i32.load', 0], k32(shift), ['i32.shl']);
    copy();
    set('dst', get('dst'), k32(R * es), ['i32.add']);
    set('t', get('t'), k32(4), ['i32.add']);
    emit(get('p'), k32(1), ['i32.sub'], ['local.tee', 'p'], ['br_if', 0], ['end']);
  };

  emit(['block'], get('panels'), ['i32.eqz'], ['br_if', 0], ['loop']);
  lanes.forEach((s, r) => set(s, get('src'), get('side'), ['i32.load', r * 4], k32(shift), ['i32.shl'], ['i32.add']));
  set('side', get('side'), k32(R * 4), ['i32.add']);
  // the lanes are neighbours: s_r − s_0 = r·es for every r
  emit(k32(1));
  for (let r = 1; r < R; r++) emit(get(lanes[r]!), get('s0'), ['i32.sub'], k32(r * es), ['i32.eq'], ['i32.and']);
  emit(['if']);
  steps(() => {
    for (let v = 0; v < NV; v++) emit(get('dst'), get('s0'), get('kb'), ['i32.add'], ['v128.load', v * 16], ['v128.store', v * 16]);
  });
  emit(['else']);
  steps(() => lanes.forEach((s, r) => emit(get('dst'), get(s), get('kb'), ['i32.add'], [load, 0], [store, r * es])));
  emit(['end']);
  emit(get('panels'), k32(1), ['i32.sub'], ['local.tee', 'panels'], ['br_if', 0], ['end'], ['end']);

  const i32s = (names: readonly string[]) => names.map((n) => [n, 'i32'] as const);
  return {
    params: i32s(['dst', 'src', 'ktab', 'side', 'kc', 'panels']),
    locals: i32s([...lanes, 'kb', 't', 'p']),
    body,
  };
}
