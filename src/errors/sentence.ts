/** The text as a sentence ending in a full stop, for messages assembled from parts (rule messages are written without one). */
export function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}
