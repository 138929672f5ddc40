// The page of browser.test.ts: compile({ threads: 2 }) in a browser — Web Workers from a Blob URL over
// SharedArrayBuffer where the page is cross-origin isolated, one thread where it is not — against
// compile() on the page's own thread, bit for bit. It reports on globalThis.result.
import { compile } from '../../src/index.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

async function main() {
  // these small sizes: shared as at any size, every call handed to the workers (plan/worthSharing.ts)
  shareEveryKernel(true);
  const sizes = { I: 131, K: 67, J: 1029 };
  const source = 'Y[i,j] = sum(k) A[i,k]*B[k,j]';
  const A = Float32Array.from({ length: 131 * 67 }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: 67 * 1029 }, (_, i) => Math.cos(i));
  const dY = Float32Array.from({ length: 131 * 1029 }, (_, i) => Math.sin(0.3 * i));
  const threaded = compile(source, { sizes, dtype: 'float32', threads: 2 });
  const one = compile(source, { sizes, dtype: 'float32' }).backward({ A, B }, { dY });
  const two = await threaded.backward({ A, B }, { dY });
  let differing = 0;
  for (const n of ['dA', 'dB']) for (let i = 0; i < one[n]!.length; i++) if (!Object.is(one[n]![i], two[n]![i])) differing++;
  threaded.dispose();
  // WebAssembly kernels (ReLU, max pooling and their gradients), split over the shared memory
  const pool = 'dims N, C, H, W\nX: [N, C, H, W]\nA: [N, C, H, W]\nA[n,c,h,w] = relu(X[n,c,h,w])\nY[n,c,u,v] = max(i:2, j:2) A[n,c, 2*u+i, 2*v+j]';
  const poolSizes = { N: 5, C: 3, H: 10, W: 14 };
  const X = Float32Array.from({ length: 5 * 3 * 10 * 14 }, (_, i) => Math.sin(1.7 * i));
  const dYp = Float32Array.from({ length: 5 * 3 * 5 * 7 }, (_, i) => Math.cos(i));
  const pooled = compile(pool, { sizes: poolSizes, dtype: 'float32', threads: 2 });
  const onePool = compile(pool, { sizes: poolSizes, dtype: 'float32' }).backward({ X }, { dY: dYp });
  const twoPool = await pooled.backward({ X }, { dY: dYp });
  for (let i = 0; i < onePool.dX!.length; i++) if (!Object.is(onePool.dX![i], twoPool.dX![i])) differing++;
  pooled.dispose();
  return { isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true, threads: threaded.threads, differing, elements: one.dA!.length + one.dB!.length + onePool.dX!.length };
}

main().then(
  (r) => ((globalThis as { result?: unknown }).result = r),
  (e: unknown) => ((globalThis as { result?: unknown }).result = { error: String((e as Error)?.stack ?? e) }),
);
