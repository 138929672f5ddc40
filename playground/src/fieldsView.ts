// fieldsView: a row of labelled number fields (the sizes of the check, the inputs of a point), kept
// while their names stay the same — so a field being typed in is never rebuilt under the cursor.
//
// Worked example: numberFields(box, [{ name: 'x', value: -2 }, { name: 'y', value: 5 }], onChange)
// shows `x [-2]  y [5]`; typing 7 into y calls onChange('y', 7); a call with the same names again
// leaves the fields (and the focus) alone, a call with other names rebuilds them.
import { h } from './dom.js';

export interface Field {
  readonly name: string;
  readonly value: number;
  /** whole numbers ≥ 0 (sizes) rather than any number */
  readonly whole?: boolean;
}

export function numberFields(container: HTMLElement, fields: readonly Field[], onChange: (name: string, value: number) => void, rebuild = false): void {
  const key = JSON.stringify(fields.map((f) => f.name));
  if (!rebuild && container.dataset.fields === key) return;
  container.dataset.fields = key;
  container.replaceChildren(
    ...fields.map((f) => {
      const input = h('input', {
        type: 'number',
        inputmode: f.whole ? 'numeric' : 'decimal',
        step: f.whole ? 1 : 'any',
        ...(f.whole ? { min: 0 } : {}),
        name: f.name,
        value: String(f.value),
        'aria-label': f.name,
      });
      input.addEventListener('input', () => {
        const v = input.valueAsNumber;
        const ok = Number.isFinite(v) && (!f.whole || (Number.isInteger(v) && v >= 0));
        input.setAttribute('aria-invalid', String(!ok));
        if (ok) onChange(f.name, v);
      });
      return h('label', { class: 'field' }, h('span', { class: 'field-name' }, f.name), input);
    }),
  );
}
