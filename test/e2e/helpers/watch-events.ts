/** A JSON watch event as the API server writes it, one per line. */
export interface WatchEvent {
  type: string;
  object: { metadata: { name: string } };
}

/** The events of a JSON watch's answer that have arrived whole (a line still arriving is left out). */
export function watchEvents(text: string): WatchEvent[] {
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as WatchEvent);
}
