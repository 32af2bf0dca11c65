/**
 * Policy what-if for auditors: backtest a pasted policy against the
 * gateway's own audit record, and compare the recorded shadow decisions
 * with the enforced ones. Both answer the report `gatehouse policy backtest
 * --json` prints (src/policy/backtest.ts).
 *
 * @module
 */

import { z } from 'zod';
import type { AuditRepo } from '../audit/store.js';
import { parseTime } from '../audit/time.js';
import { clusterNameSchema } from '../clusters/config.js';
import { backtestPolicy, shadowReport } from '../policy/backtest.js';
import type { BacktestOptions, BacktestReport } from '../policy/backtest.js';
import { compileCel } from '../policy/cel/index.js';
import { builtinGuardrailsDir } from '../policy/config.js';
import { compilePolicy, PolicyLoadError, readPolicyTexts } from '../policy/load.js';
import { defaultActions } from '../policy/model.js';
import type { CompiledPolicy } from '../policy/model.js';
import { AUDIT_READERS } from './audit.js';
import { ConsoleError } from './errors.js';
import { parseQuery, readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

/** Policy text beyond this is not a policy someone pasted; the body cap (256 KiB) still applies around it. */
const MAX_POLICY_CHARS = 128 * 1024;

/** An RFC 3339 time or an age such as `7d`, as the CLI's `--since` takes it. */
const timeOrAge = z.string().transform((text, ctx) => {
  try {
    return parseTime(text);
  } catch (err) {
    ctx.issues.push({ code: 'custom', message: (err as Error).message, input: text });
    return z.NEVER;
  }
});

const windowFields = {
  since: timeOrAge.optional(),
  until: timeOrAge.optional(),
  /** Only requests by this subject. */
  principal: z.string().min(1).optional(),
  /** Only requests for this cluster. */
  cluster: clusterNameSchema.optional(),
  /** Example requests kept per group. */
  examples: z.coerce.number().int().min(0).max(50).default(5),
};

const backtestBody = z
  .object({
    /** One or more Policy documents, as YAML text. */
    policy: z.string().min(1, 'paste a Policy document').max(MAX_POLICY_CHARS, `at most ${MAX_POLICY_CHARS} characters`),
    /** The name problems are reported under (an uploaded file's name). */
    file: z.string().min(1).max(200).default('pasted.yaml'),
    builtinGuardrails: z.boolean().default(false),
    defaultAction: z.enum(defaultActions).default('deny'),
    ...windowFields,
  })
  .strict();

const shadowQuery = z.object(windowFields).strict();

function optionsOf(input: z.infer<typeof shadowQuery>): BacktestOptions {
  return { filter: { subject: input.principal, sinceMs: input.since, untilMs: input.until }, cluster: input.cluster, examplesPerGroup: input.examples };
}

function compilePasted(input: z.infer<typeof backtestBody>): CompiledPolicy {
  try {
    const pack = input.builtinGuardrails ? readPolicyTexts([builtinGuardrailsDir()]) : [];
    return compilePolicy([...pack, { file: input.file, text: input.policy }], { compile: compileCel, defaultAction: input.defaultAction });
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    throw new ConsoleError('invalid-policy', err.message, { detail: { problems: err.problems.map(({ file, line, col, message }) => ({ file, line, col, message })) } });
  }
}

/**
 * @example
 * const routes = backtestRoutes(store.audit, { shadow: config.policy.shadow !== undefined });
 */
export function backtestRoutes(repo: AuditRepo, options: { shadow: boolean }): Route[] {
  // A report walks the window of the record: one at a time, so auditors cannot stack walks on the gateway.
  let running = false;
  const exclusive = async (make: () => Promise<BacktestReport>): Promise<BacktestReport> => {
    if (running) throw new ConsoleError('unavailable', 'another backtest or shadow report is running; try again when it has finished', { headers: { 'retry-after': '5' } });
    running = true;
    try {
      return await make();
    } finally {
      running = false;
    }
  };
  return [
    route('POST', '/gatehouse/v1/policy/backtest', AUDIT_READERS, async ({ req }) => {
      const input = await readJson(req, backtestBody);
      const policy = compilePasted(input);
      return reply(200, await exclusive(() => backtestPolicy(repo, policy, optionsOf(input))));
    }),
    route('GET', '/gatehouse/v1/policy/shadow-report', AUDIT_READERS, async ({ url }) => {
      const input = parseQuery(shadowQuery, url.searchParams);
      if (!options.shadow) throw new ConsoleError('not-found', 'shadow mode is off: set policy.shadow in gatehouse.yaml to record a proposed policy beside the enforced one');
      return reply(200, await exclusive(() => shadowReport(repo, optionsOf(input))));
    }),
  ];
}
