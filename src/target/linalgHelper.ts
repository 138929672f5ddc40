// linalgHelper: the module-level function the kernels call for a `linalg` statement (inv, det, logdet
// of an n×n matrix) — an LU factorisation with partial pivoting, step for step the interpreter's
// (src/ir/linalg.ts), so both give the same numbers; test/codegen/matrixFunctions.test.ts compares them.
//
// Worked example: `{ kind: 'linalg', fn: 'inv', src: $M, n: N, dst: $R, what: 'inv(A)' }` prints
//   $matfn('inv', $M, N, $R, 'inv(A)');
// which writes A⁻¹ into $R, or throws `inv(A): the matrix is singular (…)`.

export const LINALG_NAME = '$matfn';

const lines = (typed: boolean): string[] => {
  const t = (ty: string) => (typed ? `: ${ty}` : '');
  const nb = typed ? '!' : '';
  return [
    `const ${LINALG_NAME} = (fn${t("'inv' | 'det' | 'logdet'")}, a${t('Float32Array | Float64Array')}, n${t('number')}, out${t('Float32Array | Float64Array')}, what${t('string')})${t('void')} => {`,
    '  const m = new Float64Array(n * n);',
    `  for (let i = 0; i < n * n; i++) m[i] = a[i]${nb};`,
    '  const piv = new Int32Array(n);',
    '  let sign = 1;',
    '  let scale = 0;',
    `  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(m[i]${nb}));`,
    '  const tiny = n * 2.220446049250313e-16 * scale;',
    '  let singularAt = -1;',
    '  for (let k = 0; k < n; k++) {',
    '    let p = k;',
    `    let best = Math.abs(m[k * n + k]${nb});`,
    '    for (let i = k + 1; i < n; i++) {',
    `      const v = Math.abs(m[i * n + k]${nb});`,
    '      if (v > best) {',
    '        best = v;',
    '        p = i;',
    '      }',
    '    }',
    '    piv[k] = p;',
    '    if (p !== k) {',
    '      sign = -sign;',
    '      for (let j = 0; j < n; j++) {',
    `        const s = m[k * n + j]${nb};`,
    `        m[k * n + j] = m[p * n + j]${nb};`,
    '        m[p * n + j] = s;',
    '      }',
    '    }',
    `    const d = m[k * n + k]${nb};`,
    '    if (!(Math.abs(d) > tiny) && singularAt < 0) singularAt = k;',
    '    if (d === 0) continue;',
    '    for (let i = k + 1; i < n; i++) {',
    `      const f = m[i * n + k]${nb} / d;`,
    '      m[i * n + k] = f;',
    `      for (let j = k + 1; j < n; j++) m[i * n + j] = m[i * n + j]${nb} - f * m[k * n + j]${nb};`,
    '    }',
    '  }',
    "  if (fn === 'det') {",
    '    let det = sign;',
    `    for (let k = 0; k < n; k++) det *= m[k * n + k]${nb};`,
    '    out[0] = det;',
    '    return;',
    '  }',
    '  if (singularAt >= 0)',
    `    throw new Error(\`\${what}: the matrix is singular (its pivot in column \${singularAt + 1} is \${m[singularAt * n + singularAt]}; \${fn === 'inv' ? 'it has no inverse' : 'log |det| is −∞'})\`);`,
    "  if (fn === 'logdet') {",
    '    let s = 0;',
    `    for (let k = 0; k < n; k++) s += Math.log(Math.abs(m[k * n + k]${nb}));`,
    '    out[0] = s;',
    '    return;',
    '  }',
    '  const b = new Float64Array(n);',
    '  for (let j = 0; j < n; j++) {',
    '    b.fill(0);',
    '    b[j] = 1;',
    '    for (let k = 0; k < n; k++) {',
    `      const p = piv[k]${nb};`,
    `      const s = b[k]${nb};`,
    `      b[k] = b[p]${nb};`,
    '      b[p] = s;',
    '    }',
    '    for (let i = 0; i < n; i++) {',
    `      let s = b[i]${nb};`,
    `      for (let k = 0; k < i; k++) s -= m[i * n + k]${nb} * b[k]${nb};`,
    '      b[i] = s;',
    '    }',
    '    for (let i = n - 1; i >= 0; i--) {',
    `      let s = b[i]${nb};`,
    `      for (let k = i + 1; k < n; k++) s -= m[i * n + k]${nb} * b[k]${nb};`,
    `      b[i] = s / m[i * n + i]${nb};`,
    '    }',
    `    for (let i = 0; i < n; i++) out[i * n + j] = b[i]${nb};`,
    '  }',
    '};',
  ];
};

/** The helper's text, JavaScript or (typed) TypeScript. */
export const linalgHelper = (typed: boolean): string => lines(typed).join('\n');
