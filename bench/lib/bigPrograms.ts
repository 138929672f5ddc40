// bigPrograms: the two programs issue 15 (item 6) measures the compiler's own scaling on —
//   a sum of n reads of one input, each with a weight (`y = X[0]*1 + X[1]*2 + …`), one gradient of
//   n terms;
//   a chain of n tanh layers (`H1[n,j] = tanh(W0[j,i]*X[n,i] + b0[j])`, …, L = Σ H_n²), 2n + 1
//   inputs and n intermediates, each with its own gradient.
// The tooling bench times derive, emit and compile of them; test/ir/scaling.test.ts checks that
// the time grows about linearly.

/** `X: [n]`, `y = X[0]*1 + X[1]*2 + … ` (weights 1…7 over and over). */
export function weightedSum(n: number): string {
  return `X: [${n}]\ny = ${Array.from({ length: n }, (_, i) => `X[${i}]*${(i % 7) + 1}`).join(' + ')}`;
}

/** n tanh layers of width D = 8 on a batch of N = 4, and a squared-norm loss. */
export function tanhChain(n: number): string {
  const lines = ['dims N=4, D=8', 'X: [N, D]'];
  for (let k = 0; k < n; k++) lines.push(`W${k}: [D, D]`, `b${k}: [D]`);
  for (let k = 0; k < n; k++) lines.push(`H${k + 1}[n,j] = tanh(W${k}[j,i]*${k ? `H${k}` : 'X'}[n,i] + b${k}[j])`);
  lines.push(`L = sum(n,j) H${n}[n,j]*H${n}[n,j]`);
  return lines.join('\n');
}
