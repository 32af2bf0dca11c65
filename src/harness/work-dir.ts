/**
 * The cluster's working directory, and the clean-up of ones left behind by
 * crashed runs.
 *
 * @internal
 */
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const WORK_DIR_PREFIX = 'gatehouse-cluster-';

/** Where a work dir records its owner, so that a later start can tell it is orphaned. */
export const OWNER_FILE = join('control-plane', 'owner.json');

/** Creates (or checks) the work dir; removes work dirs of dead owners left by crashed runs. */
export async function prepareWorkDir(requested: string | undefined): Promise<string> {
  if (requested !== undefined) {
    const dir = resolve(requested);
    await mkdir(dir, { recursive: true });
    if ((await readdir(dir)).length > 0) throw new Error(`work dir ${dir} is not empty`);
    return dir;
  }
  await removeOrphanedWorkDirs();
  return mkdtemp(join(tmpdir(), WORK_DIR_PREFIX));
}

async function removeOrphanedWorkDirs(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => []);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(WORK_DIR_PREFIX))
      .map(async (name) => {
        const dir = join(tmpdir(), name);
        try {
          const { pid } = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as { pid: number };
          process.kill(pid, 0);
        } catch (err) {
          // No owner file (yet) could be a start in progress; only a dead owner is proof.
          if ((err as NodeJS.ErrnoException).code === 'ESRCH') await rm(dir, { recursive: true, force: true });
        }
      }),
  );
}
