// dom: build elements from data. Text always goes in as text nodes — program text, names and
// messages are untrusted (a shared link carries someone else's program) and never become HTML.
//
// Worked example: h('p', { class: 'note' }, 'dX = ', h('code', {}, 'Aᵀ·dY')) is
//   <p class="note">dX = <code>Aᵀ·dY</code></p>
// and h('p', {}, '<img onerror=…>') shows those characters, it does not make an image.

export type Child = Node | string | number | null | undefined | false;
export type Attributes = Record<string, string | number | boolean | undefined>;

/** An element with attributes (true → present, false/undefined → absent) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** The element with this id (the page's fixed skeleton, index.html); a missing one is a bug of the page. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Replace an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Copy text to the clipboard; where the page may not (an old browser, no permission), select it in
 *  `fallback` so Ctrl-C copies it. */
export async function copyText(text: string, fallback: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(fallback);
    const sel = window.getSelection();
    sel?.removeAllRanges();
    sel?.addRange(range);
    return false;
  }
}

/** Tell a copy button's user what happened, for a moment. */
export function flash(button: HTMLButtonElement, label: string, ms = 1500): void {
  const was = button.dataset.label ?? button.textContent ?? '';
  button.dataset.label = was;
  button.textContent = label;
  setTimeout(() => {
    button.textContent = was;
  }, ms);
}
