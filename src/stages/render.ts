// Mustache renders every templated string of a playbook: template files, blocks, commands,
// check messages. Output goes into config files and shell commands, never HTML, so nothing
// is escaped. A name outside any section must resolve, so a typo fails loudly instead of
// rendering an empty string into a config file.
import Mustache from 'mustache';
import type { TemplateSpans } from 'mustache';
import { KlabError, exitCodes } from '../errors.js';

export class TemplateError extends KlabError {
  constructor(where: string, problem: string) {
    super(`${where}: ${problem}`, exitCodes.stageFailed);
  }
}

const valueTokens = new Set(['name', '&', '#', '^']);

function parse(text: string, where: string): TemplateSpans {
  try {
    return Mustache.parse(text);
  } catch (error) {
    throw new TemplateError(where, `not a valid mustache template: ${(error as Error).message}`);
  }
}

/** Looks up a dotted name the way mustache does at the top level; undefined when absent. */
export function lookupPath(view: unknown, dotted: string): unknown {
  let value: unknown = view;
  for (const part of dotted.split('.')) {
    if (value === null || typeof value !== 'object' || !(part in value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function topLevelNames(spans: TemplateSpans): string[] {
  return spans.filter((span) => valueTokens.has(span[0]) && span[1] !== '.').map((span) => span[1]);
}

/** Every name a template refers to, at any depth (section contents included). */
export function referencedNames(text: string, where: string): string[] {
  const names: string[] = [];
  const walk = (spans: TemplateSpans): void => {
    for (const span of spans) {
      if (valueTokens.has(span[0]) && span[1] !== '.') names.push(span[1]);
      const children = span[4] as TemplateSpans | undefined;
      if (Array.isArray(children)) walk(children);
    }
  };
  walk(parse(text, where));
  return names;
}

/** Names used outside sections whose value is missing: the caller decides whether that is an error yet. */
function missingNames(text: string, view: object, where: string): string[] {
  return topLevelNames(parse(text, where)).filter((name) => lookupPath(view, name) === undefined);
}

export class MissingValueError extends TemplateError {
  constructor(
    where: string,
    readonly names: readonly string[],
  ) {
    super(where, `${names.map((n) => `{{${n}}}`).join(', ')} ${names.length === 1 ? 'has' : 'have'} no value`);
  }
}

export function render(text: string, view: object, where: string): string {
  const missing = missingNames(text, view, where);
  if (missing.length > 0) throw new MissingValueError(where, missing);
  return Mustache.render(text, view, {}, { escape: (value: string) => value });
}
