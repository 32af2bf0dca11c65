import { useState } from 'react';

/** An input or select's change event, as far as a text field needs it. */
type FieldChange = { target: { value: string } };

export interface Fields<T> {
  form: T;
  /** The onChange handler for field `k`. */
  set: (k: keyof T) => (e: FieldChange) => void;
  /** Puts every field back to its initial value. */
  reset: () => void;
}

/** The state of a form whose fields are all strings (the console's search, explain and create forms). */
export function useFields<T extends Record<string, string>>(initial: T): Fields<T> {
  const [form, setForm] = useState(initial);
  return {
    form,
    set: (k) => (e) => setForm({ ...form, [k]: e.target.value }),
    reset: () => setForm(initial),
  };
}
