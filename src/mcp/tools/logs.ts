/** The pod logs tool. */

import { z } from 'zod';
import { containerField, namespaceField, podField } from './fields.js';
import { withQuery } from './read.js';
import { defineTool } from './tool.js';

export const podLogs = defineTool({
  name: 'pod_logs',
  title: 'Pod logs',
  description:
    "Read a container's logs (like `kubectl logs`), the last lines by default. Use previous=true for the logs of the container's last crashed run. Sensitive values in the lines come back masked by the gateway.",
  input: z
    .object({
      pod: podField,
      namespace: namespaceField,
      container: containerField,
      tailLines: z.number().int().min(1).max(10_000).default(200).describe('Only the last this many lines.'),
      sinceSeconds: z.number().int().min(1).optional().describe('Only lines from the last this many seconds.'),
      previous: z.boolean().default(false).describe("The previous (terminated) run of the container, e.g. after a crash."),
      timestamps: z.boolean().default(false).describe('Prefix each line with its RFC 3339 timestamp.'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const path = withQuery(`/api/v1/namespaces/${encodeURIComponent(ctx.namespace(args.namespace))}/pods/${encodeURIComponent(args.pod)}/log`, {
      container: args.container,
      tailLines: args.tailLines,
      sinceSeconds: args.sinceSeconds,
      previous: args.previous || undefined,
      timestamps: args.timestamps || undefined,
      // The API server stops early, so a noisy container cannot fill memory; the result is cut to maxOutput anyway.
      limitBytes: ctx.maxOutput * 4,
    });
    const res = await ctx.kube.request({ path, accept: 'text/plain, */*' });
    return res.text === '' ? '(no log lines)' : res.text;
  },
});
