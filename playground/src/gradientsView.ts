// gradientsView: the gradients of a derived program — each typeset in index form and in matrix form,
// its plain-text forms beside (to copy, and for screen readers), and its derivation, collapsed.
//
// Worked example: for `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` the card of dX shows
//   dX_{k,j} = Σ_i A_{i,k} dY_{i,j}            (KaTeX, index form)
//   dX = Aᵀ dY                                  (KaTeX, matrix form)
//   dX = Aᵀ·dY   ·   dX[k,j] = sum(i) A[i,k]*dY[i,j]     (text)
//   ▸ Derivation, step by step (12 lines)
import { latexForms, stepsByGradient, type Analysis, type HessianBlock } from './analyze.js';
import { h, fill } from './dom.js';
import { typeset } from './typeset.js';

type Derived = Extract<Analysis, { kind: 'derived' }>;

interface CardData {
  readonly name: string;
  readonly index: string;
  readonly matrix: string | null;
  readonly latex: string;
  readonly note?: string;
  readonly steps?: readonly string[];
}

/** Which derivations the reader opened, by gradient name: kept open while they type. */
export type OpenSteps = Set<string>;

function card(c: CardData, open: OpenSteps): HTMLElement {
  const forms = latexForms(c.latex);
  const steps = c.steps?.length
    ? h('details', { class: 'steps', ...(open.has(c.name) ? { open: true } : {}) }, h('summary', {}, `Derivation of ${c.name}, step by step (${c.steps.length} lines)`), h('pre', {}, c.steps.join('\n')))
    : null;
  steps?.addEventListener('toggle', () => {
    if ((steps as HTMLDetailsElement).open) open.add(c.name);
    else open.delete(c.name);
  });
  return h(
    'article',
    { class: 'gradient', 'data-gradient': c.name },
    h('h3', {}, c.name, c.note ? h('span', { class: 'tag' }, c.note) : null),
    h('div', { class: 'form index-form', role: 'group', 'aria-label': `${c.name}, index form` }, typeset(forms.index)),
    forms.matrix
      ? h('div', { class: 'form matrix-form', role: 'group', 'aria-label': `${c.name}, matrix form` }, typeset(forms.matrix))
      : h('p', { class: 'muted' }, 'No matrix pattern applies: the index form is the result.'),
    h(
      'dl',
      { class: 'plain' },
      c.matrix ? h('dt', {}, 'matrix') : null,
      c.matrix ? h('dd', {}, h('code', { class: 'matrix-text' }, c.matrix)) : null,
      h('dt', {}, 'index'),
      h('dd', {}, h('code', { class: 'index-text' }, c.index)),
    ),
    steps,
  );
}

export function renderGradients(container: HTMLElement, a: Derived, open: OpenSteps): void {
  const steps = new Map(stepsByGradient(a.result.steps ?? []).map((s) => [s.gradient, s.lines] as const));
  const cards = Object.entries(a.result.gradients).map(([of, g]) =>
    card(
      {
        name: `d${of}`,
        index: g.index,
        matrix: g.matrix,
        latex: g.latex,
        ...(g.intermediate ? { note: 'intermediate: read by the gradients below it' } : {}),
        ...(steps.has(`d${of}`) ? { steps: steps.get(`d${of}`)! } : {}),
      },
      open,
    ),
  );
  fill(container, ...cards, a.hessians ? hessianSection(a.hessians, open) : null);
}

function hessianSection(blocks: Readonly<Record<string, HessianBlock>>, open: OpenSteps): HTMLElement {
  return h(
    'section',
    { class: 'hessians', 'aria-label': 'Hessian blocks' },
    h('h3', {}, 'Hessian'),
    ...Object.entries(blocks).map(([pair, b]) => card({ name: b.name, index: b.index, matrix: b.matrix, latex: b.latex, note: `block ${pair}` }, open)),
  );
}

/** A message in place of the gradients (an error, or nothing to show yet). */
export function renderMessage(container: HTMLElement, text: string, kind: 'error' | 'info'): void {
  fill(container, h('p', { class: kind === 'error' ? 'message error' : 'message' }, text));
}
