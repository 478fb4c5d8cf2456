/**
 * Undo and redo for the designer: a list of past states, the present, and the
 * undone future. States are immutable values, so a step is just a pointer move.
 *
 * Edits that belong together (the keystrokes of one field, the moves of one
 * drag) carry the same `group` key and replace each other instead of piling up,
 * so one Ctrl+Z undoes the whole edit.
 */

export interface History<T> {
  readonly past: readonly T[];
  readonly present: T;
  readonly future: readonly T[];
  readonly group: string | null;
}

export const HISTORY_LIMIT = 200;

export function createHistory<T>(present: T): History<T> {
  return { past: [], present, future: [], group: null };
}

/** The history after an edit to `next`. An edit in the same `group` as the last one merges into it. */
export function record<T>(history: History<T>, next: T, group: string | null = null, limit = HISTORY_LIMIT): History<T> {
  if (Object.is(next, history.present)) return history;
  if (group !== null && group === history.group && history.past.length > 0) {
    return { past: history.past, present: next, future: [], group };
  }
  const past = [...history.past, history.present];
  return { past: past.length > limit ? past.slice(past.length - limit) : past, present: next, future: [], group };
}

export function canUndo<T>(history: History<T>): boolean {
  return history.past.length > 0;
}

export function canRedo<T>(history: History<T>): boolean {
  return history.future.length > 0;
}

export function undo<T>(history: History<T>): History<T> {
  if (history.past.length === 0) return history;
  const previous = history.past[history.past.length - 1];
  return {
    past: history.past.slice(0, -1),
    present: previous,
    future: [history.present, ...history.future],
    group: null,
  };
}

export function redo<T>(history: History<T>): History<T> {
  if (history.future.length === 0) return history;
  const [next, ...rest] = history.future;
  return { past: [...history.past, history.present], present: next, future: rest, group: null };
}

/** Replace the present without an undo step (e.g. a selection change, or server data after a save). */
export function replacePresent<T>(history: History<T>, present: T): History<T> {
  return { ...history, present };
}
