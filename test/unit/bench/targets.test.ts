import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { groupCpuMs, processCpuMs } from '../../../bench/lib/targets.js';

describe('groupCpuMs', () => {
  let group: number | undefined;
  afterEach(() => {
    if (group !== undefined) process.kill(-group, 'SIGKILL');
    group = undefined;
  });

  it('adds up the CPU time of every process in the group, and of no other', async () => {
    // Two busy processes in a group of their own: the shell's background child, and the shell itself after exec.
    const child = spawn('sh', ['-c', 'yes > /dev/null & echo $!; exec yes > /dev/null'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    group = child.pid!;
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const other = Number(line.toString().trim());
    expect(other).toBeGreaterThan(0);
    // Each has used some CPU (10 ms ticks) before the figures are compared.
    await expect.poll(() => Math.min(processCpuMs(group!), processCpuMs(other)), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(20);

    const before = processCpuMs(group) + processCpuMs(other);
    const total = groupCpuMs(group);
    // Several groups in one pass: an empty one adds nothing.
    const withEmpty = groupCpuMs(2 ** 22 + 1, group);
    const after = processCpuMs(group) + processCpuMs(other);
    expect(total).toBeGreaterThanOrEqual(before);
    expect(withEmpty).toBeGreaterThanOrEqual(total);
    // This test's own process, busy polling, is not in the group.
    expect(total).toBeLessThanOrEqual(after);
    expect(withEmpty).toBeLessThanOrEqual(after);
  });

  it('is 0 for a group with no processes', () => {
    // Process group ids are pids, and no pid exceeds the kernel's limit of 2^22.
    expect(groupCpuMs(2 ** 22 + 1)).toBe(0);
  });
});
