// A generator of random, well-formed deltagrad programs, for the property tests.
//
// It is driven by a list of choices (small non-negative integers) rather than by a random generator:
// each decision takes the next number modulo the number of options, and a list that runs out answers
// 0. Options are ordered simplest first, so when fast-check shrinks the list (fewer, smaller numbers)
// the program shrinks with it: fewer statements, lower ranks, plain subscripts, no functions.
//
// Every program is well-formed by construction:
//   - every index has a range: a left-side index of a declared tensor (or one used alone as the
//     subscript of a dimension of the same extent), a reduction index with an explicit range or a
//     plain use inside its body, or an Einstein index introduced by a plain use;
//   - an index used alone as a subscript only meets dimensions of the same (textually equal) extent;
//   - values stay moderate (|v| ≲ 30, tracked as a bound per subexpression), so that float64
//     central differences are accurate: exp only of bounded arguments, log and sqrt only of
//     `1 + e^2`-like arguments, division only by constants, sizes, or `2 + e^2`.
//
// Worked example (one draw):
//   dims A=3, B=2
//   X: [A, B]
//   W: [B]
//   Y1[i] = relu(X[i,m]*W[m] + 0.5)
//   L = sum(i) Y1[i]*X[2-i, 1] + (max(r:2) X[i+r-1, r])
// The test derives it and checks every input gradient against central differences.

export interface GeneratedProgram {
  readonly source: string;
  /** size values passed at run time (sizes without a default, or a default overridden) */
  readonly sizes: Record<string, number>;
  /** seed of the random input values */
  readonly seed: number;
}

/** The choice list, read front to back; exhausted, it answers 0 (the simplest option). */
export class Draw {
  private k = 0;
  constructor(private readonly xs: readonly number[]) {}
  int(n: number): number {
    if (n <= 1) return 0;
    const v = this.xs[this.k++];
    return v === undefined ? 0 : v % n;
  }
  /** true with roughly `percent`% probability; a 0 choice answers false */
  chance(percent: number): boolean {
    return this.int(100) >= 100 - percent;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** a weighted pick: [weight, value] pairs, the first the simplest */
  weighted<T>(options: readonly (readonly [number, T])[]): T {
    const total = options.reduce((a, [w]) => a + w, 0);
    let r = this.int(total);
    for (const [w, v] of options) {
      if (r < w) return v;
      r -= w;
    }
    return options[0]![1];
  }
  get used(): number {
    return this.k;
  }
}

// ---- the model of a program under construction -----------------------------------------------

interface Dim {
  /** the dimension as written in a shape, e.g. `A`, `A+1`, `2*B` */
  readonly sym: string;
  readonly value: number;
}

interface TensorModel {
  readonly name: string;
  readonly dims: readonly Dim[];
  /** a bound on |element| */
  readonly bound: number;
  /** read without subscripts (a bare scalar input, or a declared `[]` tensor) */
  readonly bare: boolean;
}

interface IndexModel {
  readonly name: string;
  readonly dim: Dim;
}

/** A generated subexpression: its text, its precedence, and a bound on its absolute value. */
interface Ex {
  readonly text: string;
  readonly prec: number;
  readonly bound: number;
  /** the text uses these indices alone as a subscript on a dimension of their extent */
  readonly plain: ReadonlySet<string>;
}

const P_ADD = 1;
const P_MUL = 2;
const P_NEG = 3;
const P_POW = 4;
const P_ATOM = 5;
/** a bare reduction swallows the rest of its product: an additive term, or the last factor */
const P_REDUCE = 1.5;

const CAP = 25;
const DEF_PARAM_BOUND = 3;

const none: ReadonlySet<string> = new Set();
const union = (...xs: Ex[]): Set<string> => new Set(xs.flatMap((x) => [...x.plain]));
const wrap = (e: Ex, prec: number): string => (e.prec < prec ? `(${e.text})` : e.text);
const fmtBound = (b: number) => (Number.isFinite(b) ? b : 1e9);

function numberText(v: number): string {
  return String(v);
}

interface Scope {
  /** indices visible here, innermost last (a later one with the same name shadows) */
  readonly indices: readonly IndexModel[];
  readonly depth: number;
  /** inside a def body: the parameters are the only leaves besides numbers and sizes */
  readonly params?: readonly string[];
}

class ProgramBuilder {
  /** `value` is the size at run time; `written` the default in `dims` */
  private readonly sizes: { name: string; value: number; mode: 'default' | 'given' | 'override'; written: number }[] = [];
  private readonly dims: Dim[] = [];
  private readonly tensors: TensorModel[] = [];
  private readonly defs: { name: string; arity: number; bound: number }[] = [];
  private readonly lines: string[] = [];
  /** the left side of the statement being generated, and whether it must be declared */
  private lhs: IndexModel[] = [];
  private mustDeclare = false;
  private undeclaredInputs = 0;
  /** Einstein indices of the statement being generated */
  private einstein: IndexModel[] = [];
  private einsteinNames: string[] = [];
  private boundCounter = 0;

  constructor(private readonly d: Draw) {}

  build(seed: number): GeneratedProgram {
    const d = this.d;
    // sizes: 1–4 of them, values 1–4 (mostly small). A size has a default in `dims`, or is given at
    // run time, or has a default that the run overrides (the derivation must not bake defaults in).
    const nSizes = 1 + d.int(4);
    for (let k = 0; k < nSizes; k++) {
      const value = 1 + d.weighted([
        [3, 1],
        [4, 2],
        [2, 0],
        [1, 3],
      ] as const);
      const mode = d.weighted([
        [14, 'default'],
        [5, 'given'],
        [2, 'override'],
      ] as const);
      this.sizes.push({ name: 'ABCD'[k]!, value, mode, written: mode === 'override' ? 1 + (value % 4) : value });
    }
    this.lines.push(`dims ${this.sizes.map((s) => (s.mode === 'given' ? s.name : `${s.name}=${s.written}`)).join(', ')}`);
    for (const s of this.sizes) this.dims.push({ sym: s.name, value: s.value });
    // a few shape expressions over the sizes
    if (d.chance(25)) {
      const s = d.pick(this.sizes);
      const form = d.int(3);
      const dim =
        form === 0 ? { sym: `${s.name}+1`, value: s.value + 1 } : form === 1 ? { sym: `2*${s.name}`, value: 2 * s.value } : { sym: `(${s.name}+3)/2`, value: Math.floor((s.value + 3) / 2) };
      if (dim.value <= 4) this.dims.push(dim);
    }

    // user functions
    const nDefs = d.weighted([
      [6, 0],
      [3, 1],
      [1, 2],
    ] as const);
    for (let k = 0; k < nDefs; k++) this.def(k);

    // inputs: 1–4 tensors of rank 0–4, and maybe scalar inputs
    const nInputs = 1 + d.int(4);
    const inputNames = ['X', 'W', 'V', 'U'];
    for (let k = 0; k < nInputs; k++) {
      const rank = d.weighted([
        [2, 1],
        [3, 2],
        [1, 0],
        [2, 3],
        [1, 4],
      ] as const);
      const dims = this.shape(rank);
      const name = inputNames[k]!;
      this.lines.push(`${name}: [${dims.map((x) => x.sym).join(', ')}]`);
      this.tensors.push({ name, dims, bound: 1, bare: false });
      if (rank === 0 && d.chance(50)) this.tensors[this.tensors.length - 1] = { name, dims, bound: 1, bare: true };
    }
    if (d.chance(30)) {
      // a scalar input: declared `lam: []`, or simply used
      if (d.chance(50)) this.lines.push('lam: []');
      this.tensors.push({ name: 'lam', dims: [], bound: 1, bare: true });
    }

    // statements: 1–4, a chain where later ones read earlier ones
    const nStatements = 1 + d.weighted([
      [3, 0],
      [4, 1],
      [3, 2],
      [2, 3],
    ] as const);
    for (let k = 1; k <= nStatements; k++) this.statement(k, k === nStatements);

    const sizes: Record<string, number> = {};
    for (const s of this.sizes) if (s.mode !== 'default') sizes[s.name] = s.value;
    return { source: this.layout(), sizes, seed };
  }

  /** Join the lines, sometimes with comments, blank lines, `;` and a tab. */
  private layout(): string {
    const d = this.d;
    let out = '';
    this.lines.forEach((l, k) => {
      if (k > 0) out += d.weighted([
        [12, '\n'],
        [1, '\n\n'],
        [1, ' # note\n'],
        [1, '; '],
        [1, '\n\t'],
      ] as const);
      out += l;
    });
    return out + (d.chance(50) ? '\n' : '');
  }

  private shape(rank: number): Dim[] {
    const d = this.d;
    const dims: Dim[] = [];
    for (let k = 0; k < rank; k++) dims.push(d.pick(this.dims));
    // keep tensors small: at most 36 elements (smaller dimensions first, then a lower rank)
    while (dims.reduce((a, x) => a * x.value, 1) > 36) {
      const big = dims.reduce((m, x, i) => (x.value > dims[m]!.value ? i : m), 0);
      const smallest = this.dims.reduce((m, x) => (x.value < m.value ? x : m));
      if (dims[big]!.value === smallest.value) dims.pop();
      else dims[big] = smallest;
    }
    return dims;
  }

  private def(k: number) {
    const d = this.d;
    const arity = 1 + d.int(2);
    const params = ['x', 'y'].slice(0, arity);
    const name = ['g', 'act', 'f2'][k]!;
    const body = this.expr({ indices: [], depth: 1, params });
    this.lines.push(`def ${name}(${params.join(', ')}) = ${body.text}`);
    this.defs.push({ name, arity, bound: body.bound });
  }

  private statement(k: number, last: boolean) {
    const d = this.d;
    const name = `Y${k}`;
    const rank = last && d.chance(35) ? 0 : d.weighted([
      [3, 1],
      [3, 2],
      [2, 0],
      [1, 3],
    ] as const);
    const dims = this.shape(rank);
    const lhs: IndexModel[] = dims.map((dim, i) => ({ name: 'ijkl'[i]!, dim }));
    this.einstein = [];
    this.einsteinNames = ['m', 'n', 'o'];
    this.boundCounter = 0;
    this.lhs = lhs;
    this.mustDeclare = false;
    const rhs = this.expr({ indices: lhs, depth: 0 });
    // undeclared only when every left-side index is used alone on a dimension of its extent (and no
    // undeclared input takes its shape from the left-side indices)
    const anchored = lhs.every((ix) => rhs.plain.has(`${ix.name}:${ix.dim.sym}`));
    const declare = this.mustDeclare || !anchored || d.chance(40);
    if (declare) this.lines.push(`${name}: [${dims.map((x) => x.sym).join(', ')}]`);
    const bare = rank === 0 && d.chance(70);
    const left = bare ? name : `${name}[${lhs.map((x) => x.name).join(',')}]`;
    this.lines.push(`${left} = ${rhs.text}`);
    this.tensors.push({ name, dims, bound: Math.min(fmtBound(rhs.bound), 1e9), bare: rank === 0 });
  }

  // ---- expressions ---------------------------------------------------------------------------

  /** An expression; wraps it when its bound grows past CAP. */
  private expr(scope: Scope): Ex {
    const e = this.rawExpr(scope);
    if (e.bound <= CAP) return e;
    const d = this.d;
    // mostly scale down: tanh of a large value saturates and leaves gradients too small to measure
    if (d.chance(20)) return { text: `tanh(${e.text})`, prec: P_ATOM, bound: 1, plain: e.plain };
    const k = Math.ceil(e.bound / 4);
    return { text: `${wrap(e, P_MUL)}/${k}`, prec: P_MUL, bound: e.bound / k, plain: e.plain };
  }

  private rawExpr(scope: Scope): Ex {
    const d = this.d;
    const deeper: Scope = { ...scope, depth: scope.depth + 1 };
    if (scope.depth >= 3) return this.leaf(scope);
    const inDef = scope.params !== undefined;
    const kind = d.weighted([
      [5, 'leaf'],
      [3, 'add'],
      [4, 'mul'],
      [1, 'sub'],
      [1, 'neg'],
      [1, 'div'],
      [4, 'fn'],
      [1, 'pow'],
      [inDef ? 0 : 3, 'reduce'],
      [1, 'where'],
      [this.defs.length && !inDef ? 2 : 0, 'call'],
      [1, 'mask'],
    ] as const);
    switch (kind) {
      case 'leaf':
        return this.leaf(scope);
      case 'add':
      case 'sub': {
        const a = this.expr(deeper);
        const b = this.expr(deeper);
        const op = kind === 'add' ? '+' : '-';
        return { text: `${wrap(a, P_ADD)} ${op} ${b.prec <= P_ADD ? `(${b.text})` : b.text}`, prec: P_ADD, bound: a.bound + b.bound, plain: union(a, b) };
      }
      case 'mul': {
        const a = this.expr(deeper);
        const b = this.expr(deeper);
        // a reduction may stand bare as the last factor: it extends over the rest of the product
        const right = b.prec === P_REDUCE && d.chance(50) ? b.text : wrap(b, P_MUL + 0.5);
        return { text: `${wrap(a, P_MUL)}*${right}`, prec: b.prec === P_REDUCE && right === b.text ? P_REDUCE : P_MUL, bound: a.bound * b.bound, plain: union(a, b) };
      }
      case 'neg': {
        const a = this.expr(deeper);
        return { text: `-${wrap(a, P_NEG)}`, prec: P_NEG, bound: a.bound, plain: a.plain };
      }
      case 'div': {
        const a = this.expr(deeper);
        const form = d.int(4);
        if (form === 0) {
          const c = d.pick([2, 4, 0.5, 3]);
          return { text: `${wrap(a, P_MUL)}/${numberText(c)}`, prec: P_MUL, bound: a.bound / c, plain: a.plain };
        }
        if (form === 1 && !inDef) {
          // by a size: its value is at least 1
          const s = d.pick(this.sizes);
          return { text: `${wrap(a, P_MUL)}/${s.name}`, prec: P_MUL, bound: a.bound, plain: a.plain };
        }
        const b = this.expr(deeper);
        const den = form === 2 ? `(2 + ${wrap(b, P_POW + 1)}^2)` : `(1 + ${wrap(b, P_MUL)}*${wrap(b, P_MUL + 0.5)})`;
        return { text: `${wrap(a, P_MUL)}/${den}`, prec: P_MUL, bound: a.bound, plain: union(a, b) };
      }
      case 'pow': {
        const a = this.expr(deeper);
        const form = d.int(4);
        if (form === 0) return { text: `${wrap(a, P_ATOM)}^2`, prec: P_POW, bound: a.bound ** 2, plain: a.plain };
        if (form === 1) return { text: `pow(${a.text}, ${d.pick([2, 3])})`, prec: P_ATOM, bound: a.bound ** 3, plain: a.plain };
        if (form === 2) return { text: `(1 + ${wrap(a, P_ATOM)}^2)^0.5`, prec: P_POW, bound: Math.sqrt(1 + a.bound ** 2), plain: a.plain };
        // a power whose exponent varies: (1 + tanh(a)^2)^b, base in [1, 2]
        const b = this.expr(deeper);
        const eb = Math.min(b.bound, 3);
        const exp = b.bound > 3 ? `tanh(${b.text})` : wrap(b, P_NEG);
        return { text: `pow(1 + tanh(${a.text})^2, ${exp})`, prec: P_ATOM, bound: 2 ** eb, plain: union(a, b) };
      }
      case 'fn':
        return this.fn(deeper);
      case 'reduce':
        return this.reduce(deeper);
      case 'where': {
        const c = this.condition(deeper);
        const a = this.expr(deeper);
        const b = this.expr(deeper);
        return { text: `where(${c.text}, ${a.text}, ${b.text})`, prec: P_ATOM, bound: Math.max(a.bound, b.bound), plain: union(c, a, b) };
      }
      case 'mask': {
        const c = this.condition(deeper);
        const a = this.expr(deeper);
        return { text: `(${c.text})*${wrap(a, P_MUL + 0.5)}`, prec: P_MUL, bound: a.bound, plain: union(c, a) };
      }
      case 'call': {
        const f = d.pick(this.defs);
        const args: Ex[] = [];
        for (let k = 0; k < f.arity; k++) {
          const a = this.expr(deeper);
          args.push(a.bound > DEF_PARAM_BOUND ? { ...a, text: `tanh(${a.text})`, bound: 1 } : a);
        }
        return { text: `${f.name}(${args.map((a) => a.text).join(', ')})`, prec: P_ATOM, bound: f.bound, plain: union(...args) };
      }
    }
  }

  /** A comparison (as a value: 1 or 0). */
  private condition(scope: Scope): Ex {
    const d = this.d;
    const ixs = scope.indices;
    const form = d.int(ixs.length ? 5 : 2);
    if (form === 4 && !scope.params) {
      // argmax(r:K @ e) body: 1 where e is the first arg-max of body over r
      const r: IndexModel = { name: ['r', 'q', 't', 'p'][this.boundCounter++ % 4]!, dim: { sym: String(2 + d.int(2)), value: 0 } };
      const extent = Number(r.dim.sym);
      const at = d.chance(50) ? d.pick(ixs).name : `${d.pick(ixs).name}%${extent}`;
      const body = this.expr({ ...scope, indices: [...scope.indices, { name: r.name, dim: { sym: r.dim.sym, value: extent } }] });
      const op = d.pick(['argmax', 'argmin']);
      const plain = new Set([...body.plain].filter((x) => !x.startsWith(`${r.name}:`)));
      return { text: `${op}(${r.name}:${extent} @ ${at}) ${wrap(body, P_MUL)}`, prec: 0, bound: 1, plain };
    }
    if (form === 0 || form === 1) {
      const a = this.expr(scope);
      const op = d.pick(['>', '<', '>=', '<=']);
      if (form === 0) return { text: `${a.text} ${op} ${numberText(d.pick([0.25, -0.5, 0.1]))}`, prec: 0, bound: 1, plain: a.plain };
      const b = this.expr(scope);
      return { text: `${a.text} ${op} ${b.text}`, prec: 0, bound: 1, plain: union(a, b) };
    }
    // on index values: exact, no kink
    const i = d.pick(ixs);
    if (form === 2) return { text: `${i.name} ${d.pick(['>', '<=', '==', '!='])} ${d.int(2)}`, prec: 0, bound: 1, plain: none };
    return { text: `${i.name} % 2 == ${d.int(2)}`, prec: 0, bound: 1, plain: none };
  }

  private fn(scope: Scope): Ex {
    const d = this.d;
    const a = this.expr(scope);
    const f = d.pick(['relu', 'sigmoid', 'tanh', 'exp', 'log', 'sqrt', 'abs', 'softplus', 'elu', 'max', 'min', 'sin', 'cos', 'elu2', 'log2', 'sqrt2'] as const);
    const at = (text: string, bound: number, extra: Ex[] = []): Ex => ({ text, prec: P_ATOM, bound, plain: union(a, ...extra) });
    switch (f) {
      case 'relu':
      case 'abs':
      case 'elu':
        return at(`${f}(${a.text})`, a.bound);
      case 'elu2':
        return at(`elu(${a.text}, 0.5)`, a.bound);
      case 'sigmoid':
      case 'tanh':
      case 'sin':
      case 'cos':
        return at(`${f}(${a.text})`, 1);
      case 'exp':
        return a.bound <= 3 ? at(`exp(${a.text})`, Math.exp(a.bound)) : at(`exp(tanh(${a.text}))`, Math.E);
      case 'softplus':
        return at(`softplus(${a.text})`, a.bound + 1);
      case 'log':
        return at(`log(1 + ${wrap(a, P_ATOM)}^2)`, Math.log(1 + a.bound ** 2));
      case 'log2':
        return at(`log(2 + tanh(${a.text}))`, 1.1);
      case 'sqrt':
        return at(`sqrt(1 + ${wrap(a, P_MUL)}*${wrap(a, P_MUL + 0.5)})`, Math.sqrt(1 + a.bound ** 2));
      case 'sqrt2':
        return at(`sqrt(${wrap(a, P_ATOM)}^2 + 0.25)`, Math.sqrt(0.25 + a.bound ** 2));
      case 'max':
      case 'min': {
        const b = this.d.chance(30) ? ({ text: '0', prec: P_ATOM, bound: 0, plain: none } as Ex) : this.expr(scope);
        return at(`${f}(${a.text}, ${b.text})`, Math.max(a.bound, b.bound), [b]);
      }
    }
  }

  private reduce(scope: Scope): Ex {
    const d = this.d;
    const op = d.weighted([
      [5, 'sum'],
      [2, 'max'],
      [1, 'min'],
      [2, 'mean'],
      [2, 'logsumexp'],
    ] as const);
    const n = d.chance(25) ? 2 : 1;
    const heads: { ix: IndexModel; ranged: boolean }[] = [];
    // reduction index names: r, q, t, p — a name may repeat in a sibling or nested reduction
    for (let k = 0; k < n; k++) {
      const name = d.chance(15) ? 'r' : ['r', 'q', 't', 'p'][this.boundCounter++ % 4]!;
      if (heads.some((h) => h.ix.name === name)) continue;
      const ranged = d.chance(40);
      const dim = ranged && d.chance(50) ? { sym: String(1 + d.int(3)), value: 0 } : d.pick(this.dims);
      const fixed = dim.value === 0 ? { sym: dim.sym, value: Number(dim.sym) } : dim;
      // a range without an explicit head must come from a plain use of a dimension with this extent
      if (!ranged && !this.tensors.some((t) => t.dims.some((x) => x.sym === fixed.sym))) {
        heads.push({ ix: { name, dim: fixed }, ranged: true });
        continue;
      }
      heads.push({ ix: { name, dim: fixed }, ranged });
    }
    const inner: Scope = { ...scope, indices: [...scope.indices, ...heads.map((h) => h.ix)] };
    // the body: for each unranged head, an access using it alone, times (or plus) more
    const parts: Ex[] = [];
    for (const h of heads) if (!h.ranged) parts.push(this.access(inner, h.ix));
    if (parts.length === 0 || d.chance(60)) parts.push(this.expr(inner));
    let body = parts[0]!;
    for (const p of parts.slice(1)) {
      const op2 = d.pick(['*', '+']);
      body =
        op2 === '*'
          ? { text: `${wrap(body, P_MUL)}*${wrap(p, P_MUL + 0.5)}`, prec: P_MUL, bound: body.bound * p.bound, plain: union(body, p) }
          : { text: `${wrap(body, P_ADD)} + ${wrap(p, P_ADD + 0.5)}`, prec: P_ADD, bound: body.bound + p.bound, plain: union(body, p) };
    }
    if (body.bound > CAP) body = { ...body, text: `tanh(${body.text})`, prec: P_ATOM, bound: 1 };
    const count = heads.reduce((a, h) => a * Math.max(1, h.ix.dim.value), 1);
    const bound = op === 'sum' ? body.bound * count : op === 'logsumexp' ? body.bound + Math.log(count) : body.bound;
    const headText = heads.map((h) => (h.ranged ? `${h.ix.name}:${h.ix.dim.sym}` : h.ix.name)).join(', ');
    let text: string;
    if (op === 'sum') {
      const names = heads.map((h) => h.ix.name);
      const style = heads.every((h) => !h.ranged) ? d.weighted([
        [6, 'sum'],
        [1, 'Σ()'],
        [1, 'Σ_'],
        [1, 'Σ_{}'],
        [1, '∑()'],
      ] as const) : 'sum';
      const b = wrap(body, P_MUL);
      text =
        style === 'sum' ? `sum(${headText}) ${b}`
        : style === 'Σ()' ? `Σ(${names.join(',')}) ${b}`
        : style === '∑()' ? `∑(${names.join(',')}) ${b}`
        : style === 'Σ_' && names.length === 1 ? `Σ_${names[0]} ${b}`
        : `Σ_{${names.join(',')}} ${b}`;
    } else text = `${op}(${headText}) ${wrap(body, P_MUL)}`;
    // the plain uses of the bound indices do not anchor anything outside
    const plain = new Set([...body.plain].filter((p) => !heads.some((h) => p.startsWith(`${h.ix.name}:`))));
    return { text, prec: P_REDUCE, bound, plain };
  }

  private leaf(scope: Scope): Ex {
    const d = this.d;
    if (scope.params) {
      const form = d.int(4);
      if (form === 3) return { text: numberText(d.pick([0.5, 2, 1.5, 3])), prec: P_ATOM, bound: 3, plain: none };
      if (form === 2 && this.sizes.length) {
        const s = d.pick(this.sizes);
        return { text: s.name, prec: P_ATOM, bound: 4, plain: none };
      }
      return { text: d.pick(scope.params), prec: P_ATOM, bound: DEF_PARAM_BOUND, plain: none };
    }
    const kind = d.weighted([
      [10, 'access'],
      [2, 'number'],
      [1, 'index'],
      [1, 'size'],
    ] as const);
    switch (kind) {
      case 'access':
        return this.access(scope);
      case 'number': {
        const v = d.pick([1, 0.5, 2, 3, 0.25, 1.5]);
        return { text: numberText(v), prec: P_ATOM, bound: v, plain: none };
      }
      case 'index': {
        const ixs = this.visible(scope);
        if (!ixs.length) return { text: '1', prec: P_ATOM, bound: 1, plain: none };
        const i = d.pick(ixs);
        const form = d.int(3);
        if (form === 0) return { text: i.name, prec: P_ATOM, bound: i.dim.value, plain: none };
        if (form === 1) return { text: `(${i.name} + 1)`, prec: P_ATOM, bound: i.dim.value + 1, plain: none };
        return { text: `(${i.name} % 2)`, prec: P_ATOM, bound: 1, plain: none };
      }
      case 'size': {
        const s = d.pick(this.sizes);
        return { text: s.name, prec: P_ATOM, bound: 4, plain: none };
      }
    }
  }

  /** Indices visible in the scope (shadowed ones left out), with the statement's Einstein indices. */
  private visible(scope: Scope): IndexModel[] {
    const byName = new Map<string, IndexModel>();
    for (const ix of [...this.einstein, ...scope.indices]) byName.set(ix.name, ix);
    return [...byName.values()];
  }

  /** A read of a tensor; `anchor` must be used alone on one of its dimensions. */
  private access(scope: Scope, anchor?: IndexModel): Ex {
    const d = this.d;
    // sometimes a new, undeclared input, read with plain left-side indices: its shape is theirs
    if (!anchor && this.lhs.length && this.undeclaredInputs < 2 && d.chance(3)) {
      const ixs = this.lhs.filter(() => d.chance(60));
      if (ixs.length) {
        const name = `Z${++this.undeclaredInputs}`;
        this.tensors.push({ name, dims: ixs.map((ix) => ix.dim), bound: 1, bare: false });
        this.mustDeclare = true;
        return { text: `${name}[${ixs.map((ix) => ix.name).join(',')}]`, prec: P_ATOM, bound: 1, plain: new Set(ixs.map((ix) => `${ix.name}:${ix.dim.sym}`)) };
      }
    }
    let candidates = this.tensors;
    if (anchor) candidates = candidates.filter((t) => t.dims.some((x) => x.sym === anchor.dim.sym));
    if (!candidates.length) return { text: '1', prec: P_ATOM, bound: 1, plain: none };
    // later tensors (intermediates) are read more often: chains and fan-out
    const t2 = d.chance(50) ? candidates[candidates.length - 1]! : d.pick(candidates);
    if (t2.dims.length === 0) {
      // a scalar is read bare; a declared `[]` tensor may also be read as `X[]`
      return { text: !t2.bare && d.chance(30) ? `${t2.name}[]` : t2.name, prec: P_ATOM, bound: t2.bound, plain: none };
    }
    const anchorAt = anchor ? t2.dims.findIndex((x) => x.sym === anchor.dim.sym) : -1;
    const plain = new Set<string>();
    const subs = t2.dims.map((dim, k) => {
      if (k === anchorAt) {
        plain.add(`${anchor!.name}:${dim.sym}`);
        return anchor!.name;
      }
      const s = this.subscript(scope, dim);
      if (s.plain) plain.add(`${s.plain}:${dim.sym}`);
      return s.text;
    });
    return { text: `${t2.name}[${subs.join(',')}]`, prec: P_ATOM, bound: t2.bound, plain };
  }

  private subscript(scope: Scope, dim: Dim): { text: string; plain?: string } {
    const d = this.d;
    const visible = this.visible(scope);
    const same = visible.filter((ix) => ix.dim.sym === dim.sym);
    const form = d.weighted([
      [same.length ? 8 : 0, 'plain'],
      [this.einsteinNames.length ? 3 : 0, 'einstein'],
      [visible.length ? 4 : 0, 'affine'],
      [1, 'constant'],
    ] as const);
    switch (form) {
      case 'plain': {
        const ix = d.pick(same);
        return { text: ix.name, plain: ix.name };
      }
      case 'einstein': {
        const existing = this.einstein.filter((ix) => ix.dim.sym === dim.sym);
        // an Einstein index shadowed by a reduction index of the same name cannot be reused here
        const usable = existing.filter((ix) => !scope.indices.some((s) => s.name === ix.name));
        if (usable.length && d.chance(60)) {
          const ix = d.pick(usable);
          return { text: ix.name, plain: ix.name };
        }
        const taken = new Set(scope.indices.map((s) => s.name));
        const k = this.einsteinNames.findIndex((n) => !taken.has(n));
        if (k < 0) return { text: '0' };
        const name = this.einsteinNames.splice(k, 1)[0]!;
        this.einstein.push({ name, dim });
        return { text: name, plain: name };
      }
      case 'affine':
        return { text: this.affine(visible) };
      case 'constant':
        return { text: String(d.int(2)) };
    }
  }

  /** A compound subscript: strides, offsets, flips, floor division and remainder. */
  private affine(visible: readonly IndexModel[]): string {
    const d = this.d;
    const u = d.pick(visible);
    const v = d.pick(visible);
    const c = d.pick([1, -1, 2, -2]);
    const off = (k: number) => (k === 0 ? '' : k > 0 ? `+${k}` : `${k}`);
    const s = d.pick(this.sizes).name;
    switch (d.int(9)) {
      case 0:
        return `${u.name}${off(c)}`;
      case 1:
        return v.name === u.name ? `2*${u.name}` : `2*${u.name}+${v.name}${off(d.int(3) - 1)}`;
      case 2:
        return `${s}-1-${u.name}`;
      case 3:
        return v.name === u.name ? `${u.name}*${s}` : `${u.name}*${s}+${v.name}-1`;
      case 4:
        return `${u.name}/2`;
      case 5:
        return `${u.name}%2`;
      case 6:
        return v.name === u.name ? `-${u.name}+1` : `${u.name}-${v.name}`;
      case 7:
        return `3*${u.name}${off(c)}`;
      default:
        return v.name === u.name ? `${u.name}+${u.name}` : `${u.name}+${v.name}`;
    }
  }
}

/** The program a choice list describes. */
export function generateProgram(choices: readonly number[], seed: number): GeneratedProgram {
  return new ProgramBuilder(new Draw(choices)).build(seed);
}
