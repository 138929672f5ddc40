// The consumer code of the package tests (test/package): the same checks in plain Node and in the
// browser page. It gets deltagrad's functions as arguments, so one file serves both; the numbers are
// checked against the reference interpreter running the program derive writes.
//
// Worked example:  check(derive, compile, evaluate, conv2d, convSource).errors.compiled.dX  →  ~1e-16
export function check(derive, compile, evaluate, conv2d, conv) {
  const count = (s) => s.reduce((a, b) => a * b, 1);
  const fill = (n, f) => Float64Array.from({ length: n }, (_, i) => f(i));
  const err = (a, b) => { let m = 0, s = 0; for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); } return a.length === b.length ? m / (s || 1) : Infinity; };
  const matrix = derive('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { wrt: ['X'] }).gradients.X.matrix;
  const sizes = { N: 2, C: 3, H: 7, W: 6, F: 4, P: 1, T: 2 };
  const k = compile(conv, { sizes });
  const X = fill(count(k.shapes.X), Math.sin), K = fill(count(k.shapes.K), (i) => Math.cos(2 * i)), b = fill(count(k.shapes.b), (i) => i / 3);
  const { Y } = k.forward({ X, K, b });
  const dY = fill(Y.length, (i) => Math.cos(3 * i));
  const g = k.backward({ X, K, b }, { dY });
  const ref = evaluate(derive(conv).program, { X, K, b, dY }, { sizes });
  const ctx = {};
  const gen = conv2d.forward(ctx, { X, K, b }, sizes);
  const genB = conv2d.backward(ctx, { dY });
  const errors = {
    compiled: { Y: err(Y, ref.Y), dX: err(g.dX, ref.dX), dK: err(g.dK, ref.dK), db: err(g.db, ref.db) },
    generated: { Y: err(gen.Y, ref.Y), dX: err(genB.dX, ref.dX), dK: err(genB.dK, ref.dK), db: err(genB.db, ref.db) },
  };
  return { matrix, errors, sample: [Y[5], g.dX[7], g.dK[3], g.db[1]], lengths: [Y.length, g.dX.length, g.dK.length, g.db.length] };
}
