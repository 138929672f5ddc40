// kernelPanel: the emitted kernel module (TypeScript, or JavaScript via emit(src, { target: 'js' })) and
// the runnable backward program, each with a copy button. Emitting runs the whole back end (tens to
// hundreds of milliseconds for a convolution), so it waits until the reader opens the panel and the
// typing has paused — it is never on the path from a keystroke to the typeset gradients.
//
// Worked example: open "Kernel" with `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` in the editor and it shows the
// module that begins `// deltagrad: generated…` and exports forward and backward; "JavaScript" shows the
// same kernels without types; "Copy" puts the text shown on the clipboard.
import { emit } from '../../src/index.js';
import { byId, copyText, flash } from './dom.js';
import type { KernelTarget } from './shareLink.js';

// long enough that a typist has stopped: an emit is one blocking task of up to a few hundred ms
const EMIT_PAUSE_MS = 800;

export interface KernelPanel {
  /** the program changed: null when there is no valid program to emit */
  update(source: string | null, backwardProgram: string | null): void;
  setTarget(t: KernelTarget): void;
}

export function kernelPanel(onTarget: (t: KernelTarget) => void): KernelPanel {
  const panel = byId<HTMLDetailsElement>('kernel-panel');
  const code = byId('kernel-code');
  const target = byId<HTMLSelectElement>('kernel-target');
  const copy = byId<HTMLButtonElement>('kernel-copy');
  const programCode = byId('program-code');
  const programCopy = byId<HTMLButtonElement>('program-copy');
  let source: string | null = null;
  let shown: string | null = null; // the source and target the code shows
  let timer: ReturnType<typeof setTimeout> | undefined;

  const render = () => {
    timer = undefined;
    const key = source === null ? null : `${target.value}\u0000${source}`;
    if (!panel.open || key === shown) return;
    shown = key;
    if (source === null) {
      code.textContent = 'The program has an error: the kernel is emitted once it checks.';
      return;
    }
    try {
      code.textContent = emit(source, { target: target.value === 'js' ? 'js' : 'ts' });
    } catch (e) {
      code.textContent = `The kernel could not be emitted: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(render, ms);
  };

  panel.addEventListener('toggle', () => panel.open && schedule(0));
  target.addEventListener('change', () => {
    onTarget(target.value === 'js' ? 'js' : 'ts');
    schedule(0);
  });
  copy.addEventListener('click', async () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      render();
    }
    flash(copy, (await copyText(code.textContent ?? '', code)) ? 'Copied' : 'Selected: press Ctrl-C');
  });
  programCopy.addEventListener('click', async () => flash(programCopy, (await copyText(programCode.textContent ?? '', programCode)) ? 'Copied' : 'Selected: press Ctrl-C'));

  return {
    update(next, backward) {
      programCode.textContent = backward ?? 'The program has an error: its backward program is written once it checks.';
      if (next === source) return;
      source = next;
      if (panel.open) schedule(EMIT_PAUSE_MS);
    },
    setTarget(t) {
      target.value = t;
      if (panel.open) schedule(0);
    },
  };
}
