// gatherPack: packing the panels of an implicit im2col operand, as loop IR, for a dtype and a panel
// width R (lanes); printed to WebAssembly by src/target/wasm/printWasm.ts.
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
import { add, all, assign, buffer, c, eq, for_, if_, let_, load, mul, store, sub, sym, v } from '../../loop/build.js';
import type { LStmt, MicroFunction } from '../../loop/types.js';
import { lanesOf, type MicroDtype } from './gemmMicroKernel.js';

const i32 = (name: string) => sym(name, 'i32');

export function gatherPack({ dtype, R }: { readonly dtype: MicroDtype; readonly R: number }): MicroFunction {
  const { es, lane, vec } = lanesOf(dtype);
  if ((R * es) % 16 !== 0) throw new Error(`internal: a panel of ${R} ${dtype} is not a whole number of vectors`);
  const NV = (R * es) / 16;
  const mem = buffer('mem', 'u8');
  const [dst, src, ktab, side, kc, panels] = [i32('dst'), i32('src'), i32('ktab'), i32('side'), i32('kc'), i32('panels')];
  const [q, p, t, kb] = [i32('q'), i32('p'), i32('t'), i32('kb')];
  const lanes = Array.from({ length: R }, (_, r) => i32(`s${r}`));
  const s0 = lanes[0]!;

  /** the kc steps: kb = ktab[p] in bytes, `copy` moves the lanes, then dst and the ktab cursor advance */
  const steps = (copy: LStmt[]): LStmt[] => [
    let_(t, v(ktab), true),
    for_(p, c(0), v(kc), [let_(kb, mul(load(mem, v(t)), c(es))), ...copy, assign(dst, add(v(dst), c(R * es))), assign(t, add(v(t), c(4)))]),
  ];
  const vectors = Array.from({ length: NV }, (_, j) => store(mem, add(v(dst), c(16 * j)), load(mem, add(add(v(s0), v(kb)), c(16 * j)), { ty: vec })));
  const scalars = lanes.map((s, r) => store(mem, add(v(dst), c(r * es)), load(mem, add(v(s), v(kb)), { ty: lane })));
  const panel: LStmt[] = [
    // each lane's offset in bytes, from src
    ...lanes.map((s, r) => let_(s, add(v(src), mul(load(mem, add(v(side), c(4 * r))), c(es))))),
    assign(side, add(v(side), c(R * 4))),
    // the lanes are neighbours: s_r − s_0 = r·es for every r
    ...if_(all(lanes.slice(1).map((s, r) => eq(sub(v(s), v(s0)), c((r + 1) * es)))), steps(vectors), steps(scalars)),
  ];
  return { name: `pack${R}`, params: [dst, src, ktab, side, kc, panels], mem, body: [for_(q, c(0), v(panels), panel)] };
}
