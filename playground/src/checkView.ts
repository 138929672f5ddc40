// checkView: the numeric gradient check's result as a table — per gradient the elements compared and
// the largest error — under one verdict line.
//
// Worked example: for the affine layer at N=D=F=3 the table reads
//   dX  9 of 9  max error 3.1e-11  ✓
//   dW  9 of 9  max error 2.7e-11  ✓
//   db  3 of 3  max error 1.9e-11  ✓
// under "Passed: the kernels agree with central differences (max error 3.1e-11 < 1e-6)".
import { h, fill } from './dom.js';
import { TOLERANCE, type CheckReport } from './numericCheck.js';

const sci = (x: number) => (Number.isNaN(x) ? 'NaN' : x === 0 ? '0' : x.toExponential(1));

export function renderCheck(container: HTMLElement, r: CheckReport, ms: number): void {
  const sizes = Object.entries(r.sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const verdict = r.pass
    ? `Passed: the kernels agree with central differences (max error ${sci(r.maxError)} < ${sci(TOLERANCE)}).`
    : Number.isNaN(r.maxError)
      ? 'Failed: a gradient or a difference is NaN (is the program defined at random points in [−1, 1)? log and sqrt of negatives are not).'
      : `Failed: max error ${sci(r.maxError)} ≥ ${sci(TOLERANCE)}.`;
  fill(
    container,
    h('p', { class: r.pass ? 'verdict pass' : 'verdict fail', 'data-max-error': String(r.maxError) }, verdict),
    h(
      'table',
      { class: 'check-table' },
      h('caption', {}, `float64 kernels compiled in this page${sizes ? ` at ${sizes}` : ''}; random inputs and seeds in [−1, 1); ${Math.round(ms)} ms`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'gradient'), h('th', { scope: 'col' }, 'elements compared'), h('th', { scope: 'col' }, 'max error'), h('th', { scope: 'col' }, 'result'))),
      h(
        'tbody',
        {},
        ...r.rows.map((row) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, row.gradient),
            h('td', {}, `${row.checked} of ${row.of}`),
            h('td', { 'data-error': String(row.error) }, sci(row.error)),
            h('td', { class: row.pass ? 'pass' : 'fail' }, row.pass ? '✓ pass' : '✗ fail'),
          ),
        ),
      ),
    ),
  );
}
