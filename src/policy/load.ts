/**
 * Loads Policy YAML (files, or directories of `*.yaml`/`*.yml`, one or many
 * documents per file), validates it and compiles it once into an immutable
 * {@link CompiledPolicy}. Every problem is reported with file, line and
 * column, all at once.
 *
 * @module
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileBudget } from '../budgets/model.js';
import type { CompiledBudget } from '../budgets/model.js';
import { compileMatch } from './match.js';
import { formatLocation, policyDocumentSchema } from './model.js';
import type { CelCompiler, CelProgram, CompiledPolicy, CompiledRule, PolicyAction, RuleSpec, SourceLocation } from './model.js';
import { parseDocuments } from './yaml-source.js';
import type { PolicyProblem } from './yaml-source.js';

export type { PolicyProblem } from './yaml-source.js';

export interface LoadOptions {
  /** Compiles CEL (`compileCel` from src/policy/cel in the gateway). */
  compile: CelCompiler;
  /** The default action when no Policy document sets one (the gateway config's `policy.defaultAction`). */
  defaultAction: PolicyAction;
  /** Rules switched off by name (the gateway config's `policy.disabledRules`); a name no file defines is an error. */
  disabledRules?: readonly string[];
}

export interface PolicyText {
  readonly file: string;
  readonly text: string;
}

/** Thrown when policy does not load; `message` lists every problem as `file:line:col: reason`. */
export class PolicyLoadError extends Error {
  readonly problems: readonly PolicyProblem[];

  constructor(problems: readonly PolicyProblem[]) {
    const lines = problems.map((p) => `  ${formatLocation(p)}: ${p.message}`);
    super(`invalid policy (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'PolicyLoadError';
    this.problems = problems;
  }
}

/**
 * Reads and compiles the policy at the given files and directories.
 *
 * @throws PolicyLoadError when a file cannot be read or any document is invalid.
 * @example
 * const policy = loadPolicy(['/etc/gatehouse/policies'], { compile: compileCel, defaultAction: 'deny' });
 */
export function loadPolicy(paths: readonly string[], options: LoadOptions): CompiledPolicy {
  return compilePolicy(readPolicyTexts(paths), options);
}

/**
 * The text of every policy file under the given paths, not yet validated.
 *
 * @throws PolicyLoadError when a path or file cannot be read.
 */
export function readPolicyTexts(paths: readonly string[]): PolicyText[] {
  const texts: PolicyText[] = [];
  const problems: PolicyProblem[] = [];
  for (const file of policyFiles(paths, problems)) {
    try {
      texts.push({ file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      problems.push({ file, line: 1, col: 1, message: `cannot read the file: ${(err as Error).message}` });
    }
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return texts;
}

/** The policy files under the given paths: files as given, directories' `*.yaml`/`*.yml` (not recursive) in name order. */
export function policyFiles(paths: readonly string[], problems: PolicyProblem[] = []): string[] {
  const files: string[] = [];
  for (const path of paths) {
    try {
      if (statSync(path).isDirectory()) {
        const names = readdirSync(path, { withFileTypes: true })
          .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
          .map((e) => e.name)
          .sort();
        for (const name of names) files.push(join(path, name));
      } else {
        files.push(path);
      }
    } catch (err) {
      problems.push({ file: path, line: 1, col: 1, message: `cannot read the policy path: ${(err as Error).message}` });
    }
  }
  return files;
}

/**
 * Validates and compiles policy documents already in memory.
 *
 * @throws PolicyLoadError listing every problem found.
 * @example
 * const policy = compilePolicy([{ file: 'team.yaml', text }], { compile: compileCel, defaultAction: 'deny' });
 */
export function compilePolicy(texts: readonly PolicyText[], options: LoadOptions): CompiledPolicy {
  const problems: PolicyProblem[] = [];
  const rules: CompiledRule[] = [];
  const budgets: CompiledBudget[] = [];
  const ruleNames = new Map<string, SourceLocation>();
  let defaultFrom: SourceLocation | undefined;
  let defaultAction = options.defaultAction;

  for (const { file, text } of texts) {
    for (const { data, at } of parseDocuments(file, text, policyDocumentSchema, problems)) {
      const { metadata, spec } = data;
      if (spec.defaultAction !== undefined) {
        const here = at(['spec', 'defaultAction']);
        if (defaultFrom !== undefined) {
          problems.push({ ...here, message: `spec.defaultAction: already set at ${formatLocation(defaultFrom)}; only one Policy document may set it` });
        } else {
          defaultFrom = here;
          defaultAction = spec.defaultAction;
        }
      }
      spec.rules.forEach((rule, i) => {
        const path = ['spec', 'rules', i];
        const nameAt = at([...path, 'name']);
        const first = ruleNames.get(rule.name);
        if (first !== undefined) {
          problems.push({ ...nameAt, message: `spec.rules[${i}].name: rule "${rule.name}" is already defined at ${formatLocation(first)}; rule names must be unique` });
          return;
        }
        ruleNames.set(rule.name, nameAt);
        const cel = (key: 'when' | 'messageExpression'): CelProgram | undefined => {
          const source = rule[key];
          if (source === undefined) return undefined;
          const result = options.compile(source);
          if (result.ok) return result.program;
          const inner = result.position === undefined ? undefined : { value: source, offset: result.position.offset };
          problems.push({ ...at([...path, key], inner), message: `spec.rules[${i}].${key}: CEL does not compile: ${result.error}` });
          return undefined;
        };
        const when = cel('when');
        const messageExpression = cel('messageExpression');
        rules.push(compileRule(rule, metadata.name, at(path), when, messageExpression));
      });
      spec.budgets.forEach((budget, i) => {
        const nameAt = at(['spec', 'budgets', i, 'name']);
        const first = ruleNames.get(budget.name);
        if (first !== undefined) {
          problems.push({ ...nameAt, message: `spec.budgets[${i}].name: "${budget.name}" is already defined at ${formatLocation(first)}; rule and budget names must be unique` });
          return;
        }
        ruleNames.set(budget.name, nameAt);
        budgets.push(compileBudget(budget, metadata.name, at(['spec', 'budgets', i])));
      });
    }
  }
  const disabled = new Set(options.disabledRules ?? []);
  for (const name of disabled) {
    // A typo here would silently leave a rule on: refuse it.
    if (!ruleNames.has(name)) problems.push({ file: 'gatehouse.yaml', line: 1, col: 1, message: `policy.disabledRules: no loaded rule is named "${name}"` });
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return Object.freeze({
    rules: Object.freeze(disabled.size === 0 ? rules : rules.filter((r) => !disabled.has(r.name))),
    defaultAction,
    defaultActionFrom: defaultFrom ?? 'config',
    files: Object.freeze(texts.map((t) => t.file)),
    budgets: Object.freeze(disabled.size === 0 ? budgets : budgets.filter((b) => !disabled.has(b.name))),
  });
}

function compileRule(rule: RuleSpec, policy: string, location: SourceLocation, when: CelProgram | undefined, messageExpression: CelProgram | undefined): CompiledRule {
  const sources = [rule.when, rule.messageExpression].filter((s) => s !== undefined).join('\n');
  const boundRole = /\bboundRole\b/.test(sources);
  return Object.freeze({
    name: rule.name,
    policy,
    description: rule.description,
    location,
    action: rule.action,
    match: compileMatch(rule.match),
    when,
    message: rule.message,
    messageExpression,
    hint: rule.hint,
    review: rule.review,
    needs: Object.freeze({
      // The role a binding refers to is named in the object (for a patch, the one the patch produces).
      object: boundRole || /\bobject\b/.test(sources),
      oldObject: /\boldObject\b/.test(sources),
      namespace: rule.match.namespaceSelector !== undefined || /\bnamespaceObject\b/.test(sources),
      boundRole,
    }),
  });
}
