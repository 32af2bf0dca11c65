/**
 * Makes two kubectl outputs taken moments apart comparable: ages ("5s",
 * "2m3s") tick between the direct and the gateway run; nothing else may differ.
 */
export function normalizeAges(text: string): string {
  return text.replace(/\b\d+(?:d\d+h|h\d+m|m\d+s|[smhdy])\b/g, '<age>').replace(/[ \t]+$/gm, '');
}
