// editor: the CodeMirror 6 editor of the program — deltagrad highlighting, line numbers, undo, bracket
// matching, and the program's error as a diagnostic (underlined, in the gutter, in a tooltip).
//
// Worked example: createEditor(el, 'f = (x+y)*z', { onChange, onRun }) shows the program; each edit
// calls onChange (the page debounces it); Ctrl/Cmd-Enter calls onRun (the numeric check). Tab is left
// to the page — it moves the focus out of the editor, so a keyboard user is never trapped in it —
// and F8 / Ctrl-Shift-M go to the diagnostic and list it (CodeMirror's lint keys).
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { bracketMatching, syntaxHighlighting } from '@codemirror/language';
import { lintGutter, lintKeymap, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import { deltagradHighlight, deltagradLanguage } from './language.js';

export interface Editor {
  readonly view: EditorView;
  text(): string;
  /** replace the whole program (one undoable step) */
  setText(text: string): void;
  showDiagnostics(diagnostics: readonly Diagnostic[]): void;
}

export function createEditor(parent: HTMLElement, doc: string, on: { onChange: () => void; onRun: () => void }): Editor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        deltagradLanguage,
        syntaxHighlighting(deltagradHighlight),
        lintGutter(),
        keymap.of([{ key: 'Mod-Enter', run: () => (on.onRun(), true) }, ...defaultKeymap, ...historyKeymap, ...lintKeymap]),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'deltagrad program', spellcheck: 'false', autocapitalize: 'off', autocorrect: 'off' }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) on.onChange();
        }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: { anchor: 0 } });
    },
    showDiagnostics(diagnostics) {
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
  };
}
