// runner: the loop that runs one call's kernels as part `id` of `parts` — the same text on every
// thread. A worker has it in WORKER_SOURCE; the calling thread, which takes part 0 where it may block
// (pool.ts), makes it a function with `new Function` once. One text, so the two sides cannot drift apart.
//
// Worked example, a call of forward = [forward_Z (split), forward_Y (whole), forward_L (split)] on 2
// parts — the calling thread (part 0) and one worker (part 1): both run their share of forward_Z and
// meet at the barrier; part 0 runs forward_Y while part 1 waits at the next barrier; both run their
// share of forward_L and meet at the last barrier, after which the calling thread copies the
// results out. Two whole kernels in a row need no barrier between them: part 0 runs both.
//
// The control words (an Int32Array over a SharedArrayBuffer, pool.ts): [0] counts arrivals at the
// barrier, [1] is the generation the last arrival bumps; [2] is set when a kernel threw, so that
// every part skips the rest — but still passes every barrier, so none waits forever. A part waits at
// a barrier by spinning up to 0.3 ms (waking from Atomics.wait cost more than that on these
// machines, and the other share usually ends within it), then by Atomics.wait: every part runs on a
// thread that may block (pool.ts keeps a page's main thread out).

/** Defines `barrier(c)` and `runSteps(c, m, phases, report)`: c = { control, id, parts, last };
 * m = { fns, error, tensors, sizes, forward, backward } (a module as loaded); returns the first error
 * a kernel of this part threw ({ name, message }) or undefined, after handing it to `report` before
 * the last barrier (a worker posts it then: the calling thread, past that barrier, awaits it). */
export const RUNNER_SOURCE = String.raw`
function barrier(c) {
  const control = c.control;
  const gen = Atomics.load(control, 1);
  if (Atomics.add(control, 0, 1) === c.parts - 1) {
    Atomics.store(control, 0, 0);
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
    return;
  }
  const until = performance.now() + 0.3;
  for (let spin = 0; ; spin++) {
    if (Atomics.load(control, 1) !== gen) return;
    if ((spin & 255) === 255 && performance.now() > until) break;
  }
  while (Atomics.load(control, 1) === gen) Atomics.wait(control, 1, gen);
}
function runSteps(c, m, phases, report) {
  const control = c.control;
  let error = m.error;
  if (error) Atomics.store(control, 2, 1);
  const steps = [];
  for (const p of phases) for (const s of m[p]) steps.push(s);
  for (let i = 0; i < steps.length; i++) {
    const name = steps[i][0], split = steps[i][1];
    if (i > 0 && (split || steps[i - 1][1])) barrier(c);
    if ((split || c.id === 0) && Atomics.load(control, 2) === 0) {
      try {
        m.fns[name](m.tensors, m.sizes);
      } catch (e) {
        error = { name: (e && e.name) || 'Error', message: (e && e.message) || String(e) };
        Atomics.store(control, 2, 1);
      }
    }
  }
  if (error) report(error);
  // the last barrier, where the calling thread takes part: when it leaves it, every part has
  // written its share (where it does not, each worker says done)
  if (c.last) barrier(c);
  return error;
}
`;
