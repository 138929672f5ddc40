// main: the playground page — the state (program, inputs to differentiate by, sizes, point, kernel
// language), the editor, and what each change re-renders. Everything runs in this page.
//
// Worked example: typing `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` re-analyzes the program a few milliseconds
// after the last keystroke (analyze.ts), typesets dA, dX = Aᵀ·dY, dB (gradientsView.ts), offers A, X, B
// under "Differentiate with respect to" and sizes I, J, K for the numeric check, and writes the state
// into the URL fragment (shareLink.ts), so the address bar is always a link to what is on screen.
import 'katex/dist/katex.min.css';
import './style.css';
import { formatError } from '../../src/index.js';
import { analyze, type Analysis } from './analyze.js';
import { formatNumber, pointFor, takesAPoint, valuesAt } from './atPoint.js';
import { renderCheck } from './checkView.js';
import { diagnosticOf } from './diagnostics.js';
import { byId, copyText, fill, flash, h } from './dom.js';
import { createEditor } from './editor.js';
import { availableExamples, DEFAULT_EXAMPLE, EXAMPLES, type Example } from './examples.js';
import { has } from './features.js';
import { numberFields } from './fieldsView.js';
import { renderGradients, renderMessage, type OpenSteps } from './gradientsView.js';
import { kernelPanel } from './kernelPanel.js';
import { numericCheck, sizesFor } from './numericCheck.js';
import { decodeState, EMPTY_EXTRAS, encodeState, type PageState } from './shareLink.js';

let state: PageState = stateOf(DEFAULT_EXAMPLE);
let analysis: Analysis | undefined;
const openSteps: OpenSteps = new Set();

function stateOf(e: Example): PageState {
  return { ...EMPTY_EXTRAS, source: e.source, sizes: { ...e.sizes }, point: { ...e.point }, ...(e.wrt ? { wrt: [...e.wrt] } : {}), hessian: Boolean(e.hessian && has('second-order')) };
}

// ── the page's parts ──────────────────────────────────────────────────────────────────────────────
const examples = byId<HTMLSelectElement>('example');
const gradients = byId('gradients');
const problem = byId('problem');
const status = byId('status');
const wrtBox = byId('wrt');
const wrtInputs = byId('wrt-inputs');
const hessianToggle = byId('hessian-toggle');
const hessian = byId<HTMLInputElement>('hessian');
const pointSection = byId('point');
const pointInputs = byId('point-inputs');
const pointValues = byId('point-values');
const sizeInputs = byId('sizes');
const checkButton = byId<HTMLButtonElement>('run-check');
const checkResult = byId('check-result');
const notice = byId('notice');
const kernel = kernelPanel((t) => {
  state = { ...state, kernel: t };
  saveToUrl();
});

for (const g of availableExamples(has))
  examples.append(h('optgroup', { label: g.group }, ...g.examples.map((e) => h('option', { value: e.id }, e.title))));
hessianToggle.hidden = !has('second-order');

// ── analysis, debounced by its own cost: cheap programs update at once, costly ones once typing pauses
const MIN_PAUSE_MS = 20;
const MAX_PAUSE_MS = 300;
const TYPESET_MARK = 'deltagrad:typeset';
let lastCostMs = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

function scheduleAnalysis(): void {
  clearTimeout(timer);
  timer = setTimeout(analyzeNow, Math.min(MAX_PAUSE_MS, Math.max(MIN_PAUSE_MS, 2 * lastCostMs)));
}

function analyzeNow(): void {
  clearTimeout(timer);
  const started = performance.now();
  state = { ...state, source: editor.text() };
  analysis = analyze(state.source, { ...(state.wrt ? { wrt: state.wrt } : {}), hessian: state.hessian && has('second-order') });
  render(analysis);
  lastCostMs = performance.now() - started;
  // the e2e test measures keystroke → typeset from this mark (one kept: a mark per keystroke would pile up)
  performance.clearMarks(TYPESET_MARK);
  performance.mark(TYPESET_MARK);
  saveToUrl();
}

function render(a: Analysis): void {
  const derived = a.kind === 'derived' ? a : undefined;
  editor.showDiagnostics(a.kind === 'error' ? [diagnosticOf(a.error, a.source)] : []);
  problem.hidden = a.kind !== 'error' && a.kind !== 'failure';
  problem.textContent = a.kind === 'error' ? formatError(a.error, a.source) : a.kind === 'failure' ? `deltagrad failed on this program (a bug of ours): ${a.message}` : '';
  if (derived) renderGradients(gradients, derived, openSteps);
  else if (a.kind === 'nothing') renderMessage(gradients, a.message, 'info');
  else renderMessage(gradients, a.kind === 'error' ? 'The program has an error (marked in the editor): the gradients return once it is fixed.' : 'deltagrad could not derive this program.', 'error');
  announce(
    derived
      ? `${Object.keys(derived.result.gradients).length} gradients: ${Object.keys(derived.result.gradients).map((n) => `d${n}`).join(', ')}`
      : a.kind === 'error'
        ? `Error at line ${a.error.span?.line ?? 1}, column ${a.error.span?.col ?? 1}: ${a.error.message}`
        : a.kind === 'nothing'
          ? a.message
          : 'deltagrad failed on this program',
  );
  renderWrt(a);
  renderPoint();
  renderSizes();
  kernel.update(derived ? a.source : null, derived ? derived.result.program : null);
  const example = EXAMPLES.find((e) => e.source === a.source);
  examples.value = example ? example.id : '';
}

let announced = '';
function announce(text: string): void {
  if (text !== announced) status.textContent = announced = text;
}

function renderWrt(a: Analysis): void {
  const inputs = a.kind === 'derived' || a.kind === 'nothing' ? a.inputs : [];
  wrtBox.hidden = inputs.length === 0;
  const key = JSON.stringify([inputs.map((i) => i.name), state.wrt ?? null]);
  if (wrtInputs.dataset.key === key) return;
  wrtInputs.dataset.key = key;
  fill(
    wrtInputs,
    ...inputs.map((i) => {
      const box = h('input', { type: 'checkbox', name: 'wrt', value: i.name, ...(state.wrt && !state.wrt.includes(i.name) ? {} : { checked: true }) });
      box.addEventListener('change', () => {
        const chosen = [...wrtInputs.querySelectorAll<HTMLInputElement>('input[name=wrt]')].filter((b) => b.checked).map((b) => b.value);
        // every input ticked is the default, which the link leaves out
        const { wrt: _, ...rest } = state;
        state = chosen.length === inputs.length ? rest : { ...rest, wrt: chosen };
        analyzeNow();
      });
      return h('label', { class: 'wrt-choice' }, box, ` ${i.name} `, h('span', { class: 'muted' }, i.shape));
    }),
  );
}

function renderPoint(rebuild = false): void {
  const a = analysis;
  const show = a?.kind === 'derived' && takesAPoint(a.program);
  pointSection.hidden = !show;
  if (!show) return;
  const point = pointFor(a.program, state.point);
  numberFields(
    pointInputs,
    Object.entries(point).map(([name, value]) => ({ name, value })),
    (name, value) => {
      state = { ...state, point: { ...state.point, [name]: value } };
      renderPoint();
      saveToUrl();
    },
    rebuild,
  );
  try {
    const { values, seeded } = valuesAt(a.program, a.result, point, sizesFor(a.program, state.sizes));
    fill(
      pointValues,
      seeded.length ? h('p', { class: 'muted' }, `Seeds ${seeded.map((y) => `d${y}`).join(', ')} = 1 in every element: the gradients are those of the sum.`) : null,
      h(
        'table',
        { class: 'values' },
        h('caption', {}, 'values at this point'),
        h('tbody', {}, ...values.map((v) => h('tr', { class: v.gradient ? 'gradient-value' : '' }, h('th', { scope: 'row' }, v.name), h('td', {}, v.values.map(formatNumber).join(', '))))),
      ),
    );
  } catch (e) {
    fill(pointValues, h('p', { class: 'message error' }, e instanceof Error ? e.message : String(e)));
  }
}

function renderSizes(rebuild = false): void {
  const a = analysis;
  const program = a?.kind === 'derived' ? a.program : undefined;
  const sizes = program ? sizesFor(program, state.sizes) : {};
  numberFields(
    sizeInputs,
    Object.entries(sizes).map(([name, value]) => ({ name, value, whole: true })),
    (name, value) => {
      state = { ...state, sizes: { ...state.sizes, [name]: value } };
      staleCheck();
      renderPoint();
      saveToUrl();
    },
    rebuild,
  );
  checkButton.disabled = !program;
}

// ── the numeric check ──────────────────────────────────────────────────────────────────────────────
function staleCheck(): void {
  if (checkResult.dataset.source !== undefined) {
    delete checkResult.dataset.source;
    fill(checkResult, h('p', { class: 'muted' }, 'The program or its sizes changed: run the check again.'));
  }
}

function runCheck(): void {
  const a = analysis;
  if (a?.kind !== 'derived') return;
  checkButton.disabled = true;
  fill(checkResult, h('p', { class: 'muted' }, 'Compiling the kernels and running the check…'));
  // one frame later, so the message above is painted before the (synchronous) compile starts
  setTimeout(() => {
    const started = performance.now();
    try {
      const report = numericCheck(a.source, sizesFor(a.program, state.sizes));
      renderCheck(checkResult, report, performance.now() - started);
      checkResult.dataset.source = a.source;
    } catch (e) {
      fill(checkResult, h('p', { class: 'message error' }, `The check could not run: ${e instanceof Error ? e.message : String(e)}`));
    }
    checkButton.disabled = false;
  }, 30);
}
checkButton.addEventListener('click', runCheck);

// ── the state in the URL, and back ─────────────────────────────────────────────────────────────────
let written = '';
function saveToUrl(): void {
  written = `#${encodeState(state)}`;
  if (location.hash !== written) history.replaceState(null, '', written);
}

function loadState(next: PageState): void {
  state = next;
  hessian.checked = state.hessian;
  kernel.setTarget(state.kernel);
  if (editor.text() !== state.source) editor.setText(state.source);
  staleCheck();
  analyzeNow();
  renderPoint(true);
  renderSizes(true);
}

function stateFromLink(fragment: string): PageState {
  const { state: given, problems } = decodeState(fragment);
  const base = given.source === undefined ? stateOf(DEFAULT_EXAMPLE) : { ...EMPTY_EXTRAS, source: given.source };
  notice.hidden = problems.length === 0;
  fill(
    notice,
    problems.length ? h('p', {}, 'This link could not be read in full; the rest of it was loaded:') : null,
    problems.length ? h('ul', {}, ...problems.map((p) => h('li', {}, p))) : null,
    problems.length ? dismissButton() : null,
  );
  return { ...base, ...given } as PageState;
}

function dismissButton(): HTMLButtonElement {
  const b = h('button', { type: 'button' }, 'Dismiss');
  b.addEventListener('click', () => (notice.hidden = true));
  return b;
}

window.addEventListener('hashchange', () => {
  // a link pasted into the address bar, not the fragment this page wrote itself
  if (location.hash !== written) loadState(stateFromLink(location.hash));
});

// ── the controls ───────────────────────────────────────────────────────────────────────────────────
examples.addEventListener('change', () => {
  const e = EXAMPLES.find((x) => x.id === examples.value);
  if (e) loadState(stateOf(e));
});
hessian.addEventListener('change', () => {
  state = { ...state, hessian: hessian.checked };
  analyzeNow();
});
const share = byId<HTMLButtonElement>('share');
share.addEventListener('click', async () => {
  saveToUrl();
  flash(share, (await copyText(location.href, share)) ? 'Link copied' : 'Copy the address bar');
});

const editor = createEditor(byId('editor'), state.source, { onChange: scheduleAnalysis, onRun: runCheck });
loadState(stateFromLink(location.hash));

if (DELTAGRAD_DEV) {
  // npm run playground: esbuild says when a rebuild changed the output
  new EventSource('/esbuild').addEventListener('change', () => location.reload());
} else if ('serviceWorker' in navigator) {
  // offline once loaded: the service worker keeps every file of the page (sw.ts)
  window.addEventListener('load', () => void navigator.serviceWorker.register('./sw.js').catch(() => undefined));
}
