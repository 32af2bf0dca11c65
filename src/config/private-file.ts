import { existsSync, linkSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Creates a file readable only by its owner (0600) unless it already exists;
 * `content` is only made when it is missing (e.g. a new random key). The file
 * is written to a temporary name and hard-linked into place: link() fails when
 * the file exists, so when two processes start at once the first one's file
 * wins, both then read the same one, and nobody ever reads half of it.
 */
export function createPrivateOnce(path: string, content: () => string | Uint8Array): void {
  if (existsSync(path)) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content(), { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}
