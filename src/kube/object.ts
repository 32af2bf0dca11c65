/** A decoded JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `metadata.name` of a decoded Kubernetes object, or '' when it has none. */
export function objectName(object: unknown): string {
  const metadata = isRecord(object) ? object.metadata : undefined;
  return isRecord(metadata) && typeof metadata.name === 'string' ? metadata.name : '';
}
