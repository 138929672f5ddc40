// The emitted code itself: snapshots of the kernels the codegen issue names, structural checks of
// the optimizations it promises (each could fail), determinism, and a strict type check of every
// emitted module.
//
// Snapshots are whole modules in __snapshots__/*.ts (so they read as code and `tsc` checks them
// too). They change whenever the code generator does; after reviewing the diff, update them with
//   npx vitest run test/codegen -u
// The structural checks below do not depend on names or formatting beyond the kernel function
// names (forward_Y, backward_dX, …); they parse the module with the TypeScript compiler.
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emit } from '../../src/codegen/compile.js';
import { generateLibrary, LIBRARY } from '../../scripts/generateLibrary.js';
import { layerSource, typeErrors } from './support.js';

// ---- the programs ------------------------------------------------------------------------------

const CONV = layerSource('conv2d'); // stride T and padding P are arguments: one module for every stride
const CONV_S2P1 = layerSource('conv2d_s2p1'); // stride 2, padding 1 as numbers in the subscripts
/** stride 1, padding 1 as numbers */
const CONV_S1P1 = `# A 3×3 convolution with stride 1 and padding 1 written with numbers
dims N, C, H, W, F
X: [N, C, H, W]
K: [F, C, 3, 3]
b: [F]
Y[n,f,u,v] = K[f,c,i,j] * X[n,c, u+i-1, v+j-1] + b[f]
`;
const AFFINE_RELU = layerSource('affine_relu');
const MAXPOOL = layerSource('maxpool2d');
const SOFTMAX_XENT = layerSource('softmax_xent');

const snapshot = (name: string) => `./__snapshots__/${name}.ts`;

// ---- parsing helpers ---------------------------------------------------------------------------

const parse = (text: string) => ts.createSourceFile('kernels.ts', text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);

function children(n: ts.Node): ts.Node[] {
  const out: ts.Node[] = [];
  n.forEachChild((c) => {
    out.push(c);
  });
  return out;
}
function descendants(n: ts.Node): ts.Node[] {
  const out: ts.Node[] = [];
  const walk = (x: ts.Node) => x.forEachChild((c) => void (out.push(c), walk(c)));
  walk(n);
  return out;
}
const isLoop = (n: ts.Node): n is ts.IterationStatement =>
  ts.isForStatement(n) || ts.isForOfStatement(n) || ts.isForInStatement(n) || ts.isWhileStatement(n) || ts.isDoStatement(n);

function kernel(text: string, name: string): ts.FunctionDeclaration {
  const f = parse(text).statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === name);
  if (!f?.body) throw new Error(`the module has no function ${name}`);
  return f;
}
const functionNames = (text: string) =>
  parse(text)
    .statements.filter((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s))
    .map((s) => s.name!.text);

/** Loops with no loop inside them. */
const innermostLoops = (f: ts.Node) =>
  descendants(f)
    .filter(isLoop)
    .filter((l) => !descendants(l).some(isLoop));

/** Members of the kernel's tensor parameter `t`, with their declared types. */
function tensorParams(f: ts.FunctionDeclaration): Map<string, string> {
  const t = f.parameters[0]?.type;
  if (!t || !ts.isTypeLiteralNode(t)) throw new Error('the first parameter is not a tensor record');
  return new Map(t.members.filter(ts.isPropertySignature).map((m) => [(m.name as ts.Identifier).text, m.type!.getText()]));
}

const unparen = (e: ts.Expression): ts.Expression =>
  ts.isParenthesizedExpression(e) ? unparen(e.expression) : ts.isNonNullExpression(e) ? unparen(e.expression) : e;
const binaryOps = (n: ts.Node, kinds: ts.SyntaxKind[]) =>
  [n, ...descendants(n)].filter((x): x is ts.BinaryExpression => ts.isBinaryExpression(x) && kinds.includes(x.operatorToken.kind));
const RELATIONAL = [
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
];
const arrayOf = (e: ts.ElementAccessExpression) => unparen(e.expression).getText();
/** Element accesses that are assigned to (`a[i] = …`, `a[i] += …`, `a[i]++`). */
const isWrite = (e: ts.ElementAccessExpression) => {
  const p = e.parent;
  return (
    (ts.isBinaryExpression(p) &&
      p.left === e &&
      p.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
      p.operatorToken.kind <= ts.SyntaxKind.LastAssignment) ||
    ((ts.isPostfixUnaryExpression(p) || ts.isPrefixUnaryExpression(p)) && p.operand === e)
  );
};

interface InnerLoopReport {
  /** `%` anywhere in an innermost loop (header or body) */
  modulo: string[];
  /** `if` or `?:` whose condition compares (<, <=, >, >=) inside an innermost loop body */
  boundsTests: string[];
  /** an element access whose subscript multiplies */
  indexMultiplications: string[];
  loops: number;
}

function innerLoopReport(f: ts.FunctionDeclaration): InnerLoopReport {
  const r: InnerLoopReport = { modulo: [], boundsTests: [], indexMultiplications: [], loops: 0 };
  const line = (n: ts.Node) =>
    `line ${n.getSourceFile().getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${n.getText().replace(/\s+/g, ' ').slice(0, 120)}`;
  for (const loop of innermostLoops(f)) {
    r.loops++;
    for (const b of binaryOps(loop, [ts.SyntaxKind.PercentToken, ts.SyntaxKind.PercentEqualsToken])) r.modulo.push(line(b));
    const body = (loop as ts.ForStatement).statement;
    for (const n of [body, ...descendants(body)]) {
      const cond = ts.isIfStatement(n) ? n.expression : ts.isConditionalExpression(n) ? n.condition : undefined;
      if (cond && binaryOps(cond, RELATIONAL).length) r.boundsTests.push(line(n));
      if (ts.isElementAccessExpression(n) && binaryOps(n.argumentExpression, [ts.SyntaxKind.AsteriskToken]).length)
        r.indexMultiplications.push(line(n));
    }
  }
  return r;
}

/** The loop whose body holds the most `acc += a * b` statements on distinct locals: the register micro-kernel. */
function microKernel(f: ts.FunctionDeclaration): { loop: ts.Node; accumulators: string[] } | undefined {
  let best: { loop: ts.Node; accumulators: string[] } | undefined;
  for (const loop of descendants(f).filter(isLoop)) {
    const body = (loop as ts.ForStatement).statement;
    const stmts = ts.isBlock(body) ? body.statements : ts.factory.createNodeArray([body]);
    const accs = new Set<string>();
    for (const s of stmts) {
      if (!ts.isExpressionStatement(s)) continue;
      const e = s.expression;
      if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken && ts.isIdentifier(e.left)) {
        const rhs = unparen(e.right);
        if (ts.isBinaryExpression(rhs) && rhs.operatorToken.kind === ts.SyntaxKind.AsteriskToken) accs.add(e.left.text);
      }
    }
    if (!best || accs.size > best.accumulators.length) best = { loop, accumulators: [...accs] };
  }
  return best;
}

// ---- emitted modules, once ---------------------------------------------------------------------

const modules = {
  conv: emit(CONV, { dtype: 'float64' }),
  convJs: emit(CONV, { dtype: 'float64', simd: false }),
  convS1P1: emit(CONV_S1P1, { dtype: 'float64' }),
  convS2P1: emit(CONV_S2P1, { dtype: 'float64' }),
  affineRelu64: emit(AFFINE_RELU, { dtype: 'float64' }),
  affineRelu32: emit(AFFINE_RELU, { dtype: 'float32' }),
  affineRelu64Js: emit(AFFINE_RELU, { dtype: 'float64', simd: false }),
  affineRelu32Js: emit(AFFINE_RELU, { dtype: 'float32', simd: false }),
  maxpool: emit(MAXPOOL, { dtype: 'float64' }),
  softmaxXent: emit(SOFTMAX_XENT, { dtype: 'float64' }),
};

describe('snapshots of the emitted kernels (update with `npx vitest run test/codegen -u`)', () => {
  it('conv2d.dg: forward, dX, dK, db with stride T and padding P as arguments', async () => {
    await expect(modules.conv).toMatchFileSnapshot(snapshot('conv2d.float64'));
  });
  it('conv, stride 1, padding 1 (numbers): forward, dX, dK, db', async () => {
    await expect(modules.convS1P1).toMatchFileSnapshot(snapshot('conv2d_s1p1.float64'));
  });
  it('conv2d_s2p1.dg, stride 2, padding 1 (numbers): forward, dX, dK', async () => {
    await expect(modules.convS2P1).toMatchFileSnapshot(snapshot('conv2d_s2p1.float64'));
  });
  it('affine_relu.dg float64: packed GEMM micro-kernel, bias + ReLU epilogue, mask applied while packing', async () => {
    await expect(modules.affineRelu64).toMatchFileSnapshot(snapshot('affine_relu.float64'));
  });
  it('affine_relu.dg float32', async () => {
    await expect(modules.affineRelu32).toMatchFileSnapshot(snapshot('affine_relu.float32'));
  });
  it('affine_relu.dg float64 with simd: false: the micro-kernel in JavaScript', async () => {
    await expect(modules.affineRelu64Js).toMatchFileSnapshot(snapshot('affine_relu.float64.nosimd'));
  });
  it('maxpool2d.dg: forward records the arg-max (Int32Array), backward reads it', async () => {
    await expect(modules.maxpool).toMatchFileSnapshot(snapshot('maxpool2d.float64'));
  });
  it('softmax_xent.dg: forward and backward with max subtraction', async () => {
    await expect(modules.softmaxXent).toMatchFileSnapshot(snapshot('softmax_xent.float64'));
  });
});

// ---- structure ---------------------------------------------------------------------------------

describe('quotient and remainder loops: h = 2q + r instead of ⌊h/2⌋ and h % 2 per element (splitQuotientLoops)', () => {
  const UPSAMPLE = 'dims N, H\nX: [N, H]\nY: [N, 3*H]\nY[n,h] = X[n, h/3] * (h % 3 + 1)';
  const cases = [
    ['maxpool2d.dg backward_dX', MAXPOOL, 'backward_dX'],
    ['avgpool2d.dg backward_dX', layerSource('avgpool2d'), 'backward_dX'],
    ['a 3-wide upsampling, forward_Y', UPSAMPLE, 'forward_Y'],
  ] as const;
  const floorOrModulo = (source: string, fn: string, optimize: boolean) =>
    innermostLoops(kernel(emit(source, { dtype: 'float64', optimize }), fn)).filter((l) => /Math\.floor|%/.test(l.getText())).length;
  for (const [label, source, fn] of cases)
    it(`${label}: no Math.floor and no % in the innermost loops (the naive nest has them)`, () => {
      expect(innermostLoops(kernel(emit(source, { dtype: 'float64' }), fn)).length).toBeGreaterThan(0);
      expect(floorOrModulo(source, fn, true)).toBe(0);
      expect(floorOrModulo(source, fn, false)).toBeGreaterThan(0);
    });
});

describe('conv kernels: no modulo, no bounds test, no index multiplication in the innermost loops', () => {
  const cases: [string, string, string][] = [];
  for (const [label, text] of [
    ['stride 2, padding 1 (conv2d_s2p1.dg)', modules.convS2P1],
    ['stride 1, padding 1', modules.convS1P1],
    ['stride T, padding P (conv2d.dg)', modules.conv],
    ['stride T, padding P, simd: false (register-tiled loops)', modules.convJs],
  ] as const)
    for (const fn of ['backward_dX', 'forward_Y', 'backward_dK']) cases.push([label, text, fn]);

  // Regression test, was a bug (issue 3, deliverable 2; since 702db5a): conv forward and dK are now im2col-style GEMMs whose
  // packing loops test the padding bounds per element (`T*$col_u[$j]! + $k_i[$k]! - P >= 0 && … < H ?
  // X[…] : 0`), test the panel edge per element (`$ip + $ii < $mc ? … : 0`) and compute every offset
  // with multiplications (`X[$col_n[$j]! * $X_s0 + $k_c[$k]! * $X_s1 + …]`). The issue asks for none of
  // these in an inner loop of conv forward, dX or dK. backward_dX passes all three checks.
  const knownBug: Record<string, readonly string[]> = {};
  const checks = [
    ['modulo', 'no `%`', (r: InnerLoopReport) => r.modulo],
    ['bounds', 'no bounds test (`if`/`?:` on a comparison)', (r: InnerLoopReport) => r.boundsTests],
    ['index', 'no multiplication in a subscript', (r: InnerLoopReport) => r.indexMultiplications],
  ] as const;
  for (const [label, text, fn] of cases)
    for (const [id, what, found] of checks) {
      const bug = knownBug[fn]?.includes(id) ?? false;
      (bug ? it.fails : it)(`${fn}, ${label}: ${what} in the innermost loops${bug ? ' — BUG: im2col packing loops' : ''}`, () => {
        const r = innerLoopReport(kernel(text, fn));
        expect(r.loops, 'innermost loops found').toBeGreaterThan(0);
        expect(found(r), `${what}`).toEqual([]);
      });
    }

  it('(the checks do fail on a kernel with a bounds test, a modulo and index multiplications)', () => {
    const bad = `export function backward_dX(t: { readonly dX: Float64Array; readonly dY: Float64Array }, s: { readonly N: number }): void {
  for (let h = 0; h < s.N; h++) {
    let acc = 0;
    for (let u = 0; u < s.N; u++) {
      if ((h - u) % 2 === 0 && h - u >= 0) acc += t.dY[u * 2]!;
    }
    t.dX[h] = acc;
  }
}`;
    const r = innerLoopReport(kernel(bad, 'backward_dX'));
    expect(r.modulo.length).toBe(1);
    expect(r.boundsTests.length).toBe(1);
    expect(r.indexMultiplications.length).toBe(1);
  });
});

/** Calls of the WebAssembly macro-kernel (`$W.run(…)`) in a kernel. */
const wasmCalls = (f: ts.Node) =>
  descendants(f).filter((n): n is ts.CallExpression => ts.isCallExpression(n) && /^\$\w+\.run$/.test(n.expression.getText()));

describe('conv kernels with simd: false: reads along the innermost loop come from a copy padded off 1 KiB strides', () => {
  // the tensor the tiled dX kernel walks along its innermost (filter) loop
  for (const [fn, tensor] of [['backward_dX', 'dY']] as const)
    it(`${fn} reads ${tensor} only through $${tensor}_r, padded when ${tensor}'s stride × 8 bytes is a multiple of 1024`, () => {
      const f = kernel(modules.convJs, fn);
      const text = f.getText();
      expect(text).toMatch(new RegExp(`const \\$${tensor}_pad = .*\\* 8 % 1024 === 0 \\? 8 : 0;`));
      const reads = innermostLoops(f).flatMap((l) => descendants(l).filter(ts.isElementAccessExpression).map(arrayOf));
      expect(reads).toContain(`$${tensor}_r`);
      expect(reads, `${tensor} read directly in an innermost loop`).not.toContain(tensor);
    });
});

describe('conv input gradient: one im2col GEMM per residue class of the stride, over the taps', () => {
  /** the loops (for statements) enclosing a node, outermost first */
  const enclosing = (n: ts.Node, f: ts.Node) => {
    const out: ts.ForStatement[] = [];
    for (let p = n.parent; p && p !== f; p = p.parent) if (ts.isForStatement(p)) out.unshift(p);
    return out;
  };
  for (const [label, text, classes] of [
    ['stride T (conv2d.dg)', modules.conv, 2],
    ['stride 2 (numbers)', modules.convS2P1, 2],
    ['stride 1 (numbers)', modules.convS1P1, 0],
  ] as const)
    it(`${label}: backward_dX calls the macro-kernel once per block inside ${classes ? 'two loops over the residue classes' : 'no class loop (one class)'}; the dY panels are packed by the WebAssembly packer`, () => {
      const f = kernel(text, 'backward_dX');
      const calls = descendants(f).filter((n): n is ts.CallExpression => ts.isCallExpression(n) && /^\$W\.\w+$/.test(n.expression.getText()));
      expect(calls.map((c) => c.expression.getText()).sort()).toEqual(['$W.pack4', '$W.reserve', '$W.run', '$W.spread']);
      const run = calls.find((c) => c.expression.getText() === '$W.run')!;
      const loops = enclosing(run, f).map((l) => l.initializer!.getText());
      // the class loops (ρ of h, ρ of w), then the block loops jc, pc, ic
      expect(loops.filter((x) => /\$rho\d/.test(x))).toHaveLength(classes);
      expect(loops.filter((x) => /\$(jc|pc|ic)\b/.test(x))).toHaveLength(3);
      expect(loops).toHaveLength(classes + 3);
      // the contraction runs over the class's taps ($taps0·$taps1 of each filter), not over all of dY
      // (a stride of 1 has one class, with every tap: 3 × 3)
      expect(f.getText()).toMatch(classes ? /const \$KC = Math\.ceil\(\S+ \* \$taps1 \// : /const \$KC = Math\.ceil\(F \* 3 \* 3 \//);
      if (classes) expect(f.getText()).toMatch(/= F \* \$taps0;/);
      // dY is read from one padded copy made before the class loops
      const copies = descendants(f).filter((n) => ts.isVariableDeclaration(n) && n.name.getText() === '$dY_z');
      expect(copies).toHaveLength(1);
      expect(enclosing(copies[0]!, f)).toHaveLength(0);
    });
});

describe('affine + ReLU: register micro-kernel, fused epilogue, mask in the packing loop', () => {
  for (const [dtype, text, simd] of [
    ['float64', modules.affineRelu64, true],
    ['float32', modules.affineRelu32, true],
    ['float64', modules.affineRelu64Js, false],
    ['float32', modules.affineRelu32Js, false],
  ] as const) {
    const variant = `${dtype}${simd ? '' : ', simd: false'}`;
    /** the loop that holds the multiply-adds: the WebAssembly call's loop, or the JavaScript micro-kernel */
    const hotLoop = (f: ts.FunctionDeclaration): ts.Node => {
      if (!simd) return microKernel(f)!.loop;
      const call = wasmCalls(f)[0]!;
      let n: ts.Node = call;
      while (!isLoop(n)) n = n.parent;
      return n;
    };
    if (simd)
      it(`${variant}: forward_Y packs X and W into the WebAssembly module's memory and calls its micro-kernel once per block`, () => {
        const f = kernel(text, 'forward_Y');
        const calls = wasmCalls(f);
        expect(calls.length).toBe(1);
        // the call sits in the loops over blocks (jc, pc, ic), not inside an element loop
        let depth = 0;
        for (let n: ts.Node = calls[0]!; n !== f; n = n.parent) if (isLoop(n)) depth++;
        expect(depth, 'loops around the micro-kernel call').toBe(3);
        // packing loops write the module memory ($H), reading the tensors
        const tensors = tensorParams(f);
        const packs = innermostLoops(f).filter((l) => descendants(l).some((n) => ts.isElementAccessExpression(n) && isWrite(n) && arrayOf(n) === '$H'));
        expect(packs.length, 'two packing loops').toBe(2);
        for (const l of packs) expect(descendants(l).some((n) => ts.isElementAccessExpression(n) && !isWrite(n) && tensors.has(arrayOf(n)))).toBe(true);
        // no JavaScript micro-kernel is left beside it
        expect(microKernel(f)?.accumulators.length ?? 0).toBeLessThan(2);
        expect(functionNames(text)).toContain(dtype === 'float64' ? '$gemm64' : '$gemm32');
      });
    else
      it(`${variant}: forward_Y holds an unrolled micro-kernel (≥ 2×4 accumulators) over packed operands`, () => {
        const f = kernel(text, 'forward_Y');
        const mk = microKernel(f);
        expect(mk?.accumulators.length ?? 0, 'accumulators updated by `acc += a * b` in one loop').toBeGreaterThanOrEqual(8);
        // the micro-kernel reads only local (packed) arrays, never the tensors X or W directly
        const tensors = tensorParams(f);
        const reads = descendants(mk!.loop).filter(ts.isElementAccessExpression).map(arrayOf);
        expect(reads.length).toBeGreaterThan(0);
        expect(
          reads.filter((a) => tensors.has(a)),
          'tensor reads inside the micro-kernel',
        ).toEqual([]);
        expect(wasmCalls(f)).toEqual([]);
        expect(text).not.toContain('WebAssembly');
      });

    it(`${variant}: bias and ReLU are applied in the GEMM's own loops (no second pass, no temporary)`, () => {
      const f = kernel(text, 'forward_Y');
      const hot = hotLoop(f);
      // the top-level statement of the kernel that holds the multiply-adds also applies b and the ReLU
      const top = f.body!.statements.find((s) => s.pos <= hot.pos && hot.end <= s.end)!;
      const inTop = descendants(top);
      expect(
        inTop.some((n) => ts.isElementAccessExpression(n) && arrayOf(n) === 'b' && !isWrite(n)),
        'b read inside the GEMM loops',
      ).toBe(true);
      const relu = inTop.some(
        (n) =>
          (ts.isCallExpression(n) && n.expression.getText() === 'relu') ||
          (ts.isConditionalExpression(n) && /> 0\b/.test(n.condition.getText())),
      );
      expect(relu, 'ReLU applied inside the GEMM loops').toBe(true);
      // Y is written only inside that statement (the K = 0 special case aside) and the module has one forward kernel
      expect(functionNames(text).filter((n) => n.startsWith('forward_'))).toEqual(['forward_Y']);
      expect(Object.keys(Object.fromEntries(tensorParams(f)))).toEqual(expect.arrayContaining(['Y', 'X', 'W', 'b']));
      expect(tensorParams(f).size, 'forward_Y takes no temporary tensor').toBe(4);
    });

    for (const fn of ['backward_dX', 'backward_dW'])
      it(`${variant}: ${fn} applies the mask (Y > 0) while packing, with no mask array`, () => {
        const f = kernel(text, fn);
        const tensors = tensorParams(f);
        const packing = innermostLoops(f).filter((l) => {
          const d = descendants(l);
          const writesLocal = d.some((n) => ts.isElementAccessExpression(n) && isWrite(n) && !tensors.has(arrayOf(n)));
          const masks = binaryOps(l, [ts.SyntaxKind.GreaterThanToken]).some(
            (b) => ts.isElementAccessExpression(unparen(b.left)) && arrayOf(unparen(b.left) as ts.ElementAccessExpression) === 'Y',
          );
          return writesLocal && masks;
        });
        expect(packing.length, 'an innermost loop that writes a packed buffer and tests Y > 0').toBeGreaterThan(0);
        if (simd) expect(wasmCalls(f).length).toBe(1);
        else expect(microKernel(f)!.accumulators.length).toBeGreaterThanOrEqual(8);
      });

    it(`${variant}: the module has no kernel beyond the statement and its gradients`, () => {
      const helper = simd ? [dtype === 'float64' ? '$gemm64' : '$gemm32'] : [];
      expect(functionNames(text).sort()).toEqual(
        ['backward', 'backward_dW', 'backward_dX', 'backward_db', 'forward', 'forward_Y', 'shapes', ...helper].sort(),
      );
    });
  }
});

describe('max pooling: forward records the arg-max in an Int32Array, backward reads it', () => {
  it('forward_Y writes an Int32Array record', () => {
    const f = kernel(modules.maxpool, 'forward_Y');
    const records = [...tensorParams(f)].filter(([, type]) => type === 'Int32Array').map(([n]) => n);
    expect(records.length).toBe(1);
    const writes = descendants(f)
      .filter((n): n is ts.ElementAccessExpression => ts.isElementAccessExpression(n) && isWrite(n))
      .map(arrayOf);
    expect(writes).toContain(records[0]);
  });
  it('backward_dX reads the record and never reads X (no recomputed maximum)', () => {
    const fwd = kernel(modules.maxpool, 'forward_Y');
    const record = [...tensorParams(fwd)].find(([, type]) => type === 'Int32Array')![0];
    const f = kernel(modules.maxpool, 'backward_dX');
    expect(tensorParams(f).get(record)).toBe('Int32Array');
    const reads = descendants(f)
      .filter((n): n is ts.ElementAccessExpression => ts.isElementAccessExpression(n) && !isWrite(n))
      .map(arrayOf);
    expect(reads).toContain(record);
    expect(reads).not.toContain('X');
    expect(tensorParams(f).has('X')).toBe(false);
  });
});

describe('softmax cross-entropy: max subtraction, fused, no temporaries', () => {
  for (const fn of ['forward_L', 'backward_dS'])
    it(`${fn}: every exp is of a difference (s − max or s − logsumexp), after a running maximum`, () => {
      const f = kernel(modules.softmaxXent, fn);
      const exps = descendants(f).filter((n): n is ts.CallExpression => ts.isCallExpression(n) && n.expression.getText() === 'Math.exp');
      expect(exps.length).toBeGreaterThan(0);
      for (const e of exps) {
        const arg = unparen(e.arguments[0]!);
        expect(ts.isBinaryExpression(arg) && arg.operatorToken.kind === ts.SyntaxKind.MinusToken, e.getText()).toBe(true);
      }
      // a maximum is taken (a `>` comparison against a running value, or Math.max) before any exp
      const firstExp = Math.min(...exps.map((e) => e.getStart()));
      const maxima = descendants(f).filter(
        (n) =>
          (ts.isCallExpression(n) && n.expression.getText() === 'Math.max') ||
          (ts.isIfStatement(n) && binaryOps(n.expression, [ts.SyntaxKind.GreaterThanToken]).length > 0),
      );
      expect(maxima.some((m) => m.getStart() < firstExp)).toBe(true);
    });
  it('no temporary arrays and a single forward kernel', () => {
    const text = modules.softmaxXent;
    expect(
      descendants(parse(text))
        .filter(ts.isNewExpression)
        .map((n) => n.getText()),
    ).toEqual([]);
    expect(functionNames(text).filter((n) => n.startsWith('forward_'))).toEqual(['forward_L']);
  });
});

// ---- determinism -------------------------------------------------------------------------------

describe('determinism', () => {
  it('emitting twice gives identical bytes, whatever was emitted in between', () => {
    // `modules` were emitted first thing; many other programs have been emitted since
    const again = { conv: emit(CONV, { dtype: 'float64' }), affineRelu32: emit(AFFINE_RELU, { dtype: 'float32' }) };
    expect(again.conv).toBe(modules.conv);
    expect(again.affineRelu32).toBe(modules.affineRelu32);
  });
  it('the module does not depend on the sizes passed to emit (kernels are size-generic)', () => {
    expect(emit(CONV, { dtype: 'float64', sizes: { N: 3, C: 2, H: 9, W: 7, F: 4, T: 2, P: 1 } })).toBe(modules.conv);
  });
});

// ---- generated/ is up to date --------------------------------------------------------------------

/** What `npm run generate` would write: file name → text (the float64 module of each library layer, and index.ts). */
const library = generateLibrary();

describe('generated/ is what `npm run generate` writes (the --check of the golden folder)', () => {
  const dir = fileURLToPath(new URL('../../generated/', import.meta.url));
  it('the same set of files', () => {
    const onDisk = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .sort();
    expect(onDisk).toEqual([...library.keys()].sort());
    expect(library.size).toBe(LIBRARY.length + 1);
  });
  it('byte-identical contents', () => {
    const stale: string[] = [];
    for (const [name, text] of library) {
      let disk = '';
      try {
        disk = readFileSync(`${dir}${name}`, 'utf8');
      } catch {
        stale.push(`${name}: missing`);
        continue;
      }
      if (disk === text) continue;
      const a = disk.split('\n');
      const b = text.split('\n');
      const at = a.findIndex((l, i) => l !== b[i]);
      stale.push(`${name}: first difference at line ${at + 1}: on disk ${JSON.stringify(a[at])}, regenerated ${JSON.stringify(b[at])}`);
    }
    expect(stale, 'generated/ is stale: run npm run generate').toEqual([]);
  });
});

// ---- type check --------------------------------------------------------------------------------

describe('the emitted modules type-check (strict, noUncheckedIndexedAccess)', () => {
  const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
  const layers = readdirSync(layersDir)
    .filter((f) => f.endsWith('.dg'))
    .map((f) => f.slice(0, -3))
    .sort();

  it('every layer: float64 and float32 optimized, float64 naive; and the snapshot programs', () => {
    const modules_: Record<string, string> = {};
    let files = 0;
    for (const name of layers) {
      const source = layerSource(name);
      // the naive lowering differs between dtypes only in the array type's name: float64 suffices
      for (const [dtype, optimize] of [
        ['float64', true],
        ['float32', true],
        ['float64', false],
      ] as const) {
        // the library's float64 modules were just emitted by generateLibrary(): reuse them
        const fromLibrary = dtype === 'float64' && optimize ? library.get(`${name}.ts`) : undefined;
        modules_[`${name}.${dtype}.${optimize ? 'opt' : 'naive'}.ts`] = fromLibrary ?? emit(source, { dtype, optimize });
        files++;
      }
    }
    for (const [name, text] of Object.entries(modules)) modules_[`snapshot.${name}.ts`] = text;
    // a file with a known error proves the check is live
    modules_['canary.ts'] = 'const a = new Float64Array(2);\nexport const x: number = a[0];\n';
    const byFile = typeErrors(modules_);
    expect(byFile.filter((m) => m.startsWith('canary.ts')).length, 'the canary error').toBe(1);
    expect(byFile.filter((m) => !m.startsWith('canary.ts'))).toEqual([]);
    expect(files).toBe(layers.length * 3);
  });
});
