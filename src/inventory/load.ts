// Reads and validates klab.yaml. Every problem is reported with the file, the line and
// column, the key path (hosts[1].internalAddress) and what was expected, and all problems
// are reported together. Nothing touches a host before the inventory is valid.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { KlabError, exitCodes } from '../errors.js';
import { KeyFileError } from '../transport/errors.js';
import { readPrivateKeyFile } from '../transport/keys.js';
import { checkInventoryRules, isRecord } from './rules.js';
import { inventorySchema } from './schema.js';
import type { Inventory } from './schema.js';

export interface LoadedInventory {
  /** Absolute path of the inventory file. */
  file: string;
  /** Its folder: relative keyFile paths and the state folder (.klab) are resolved against it. */
  dir: string;
  inventory: Inventory;
}

export interface InventoryProblem {
  line?: number;
  column?: number;
  /** `hosts[1].internalAddress`, or `(document)` for the whole file. */
  keyPath: string;
  /** What was expected, and what was found where that helps. */
  message: string;
}

export class InventoryError extends KlabError {
  constructor(
    readonly file: string,
    readonly problems: readonly InventoryProblem[],
    hint?: string,
  ) {
    const lines = problems.map((p) => `  ${file}${p.line === undefined ? '' : `:${p.line}:${p.column ?? 1}`}: ${p.keyPath}: ${p.message}`);
    const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`;
    super(`inventory ${file} has ${count}:\n${lines.join('\n')}`, exitCodes.usage, hint);
  }
}

/** Resolves a host's keyFile: `~/…` against the home folder, other relative paths against the inventory's folder. */
export function resolveKeyFile(inventoryDir: string, keyFile: string): string {
  if (keyFile === '~' || keyFile.startsWith('~/') || keyFile.startsWith('~\\')) return join(homedir(), keyFile.slice(1));
  return isAbsolute(keyFile) ? keyFile : resolve(inventoryDir, keyFile);
}

export async function loadInventory(file: string): Promise<LoadedInventory> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'the file does not exist' : `the file cannot be read (${code ?? String(error)})`;
    throw new InventoryError(
      absolute,
      [{ keyPath: '(document)', message: `expected a readable inventory file; ${found}` }],
      code === 'ENOENT' ? 'Create one with `klab init`, or pass another file with -i.' : undefined,
    );
  }
  return { file: absolute, dir: dirname(absolute), inventory: await parseInventory(text, absolute) };
}

/** Validates inventory text; `file` names it in errors and anchors relative keyFile paths. */
export async function parseInventory(text: string, file: string): Promise<Inventory> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InventoryError(
      file,
      doc.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return { line: pos.line, column: pos.col, keyPath: '(document)', message: `expected valid YAML: ${firstLine(error.message)}` };
      }),
    );
  }

  const data: unknown = doc.toJS();
  const locate = (path: readonly PropertyKey[], atKey = false): Pick<InventoryProblem, 'line' | 'column'> => {
    const offset = offsetOf(doc, path, atKey);
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };

  const problems: InventoryProblem[] = [];
  const ruleIssues = checkInventoryRules(data);
  // A rule that explains why a key is required says more than zod's bare "required".
  const explained = new Set(ruleIssues.map((issue) => formatKeyPath(issue.path)));
  const parsed = inventorySchema.safeParse(data ?? {}, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'invalid_type' && issue.input === undefined && explained.has(formatKeyPath(issue.path))) continue;
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeys(issue.path);
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          problems.push({
            ...locate(path, true),
            keyPath: formatKeyPath(path),
            message: `unknown key${known ? `; expected one of: ${known.join(', ')}` : ''}`,
          });
        }
      } else {
        problems.push({ ...locate(issue.path), keyPath: formatKeyPath(issue.path), message: describeIssue(issue) });
      }
    }
  }
  for (const issue of ruleIssues) {
    problems.push({ ...locate(issue.path), keyPath: formatKeyPath(issue.path), message: issue.message });
  }

  const hosts = isRecord(data) && Array.isArray(data.hosts) ? data.hosts : [];
  await Promise.all(
    hosts.map(async (host: unknown, index) => {
      if (!isRecord(host) || typeof host.keyFile !== 'string' || host.keyFile === '') return;
      const problem = await checkKeyFile(resolveKeyFile(dirname(file), host.keyFile));
      if (problem) problems.push({ ...locate(['hosts', index, 'keyFile']), keyPath: `hosts[${index}].keyFile`, message: problem });
    }),
  );

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new InventoryError(file, problems);
  }
  return parsed.data;
}

/** What is wrong with the private key file at `path`, phrased "expected …; PATH …"; undefined when klab can use it. */
export async function checkKeyFile(path: string): Promise<string | undefined> {
  try {
    await readPrivateKeyFile(path);
    return undefined;
  } catch (error) {
    if (error instanceof KeyFileError) return `expected ${error.expected}; ${path} ${error.problem}`;
    throw error;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const secret = issue.path.includes('password');
  const got = 'input' in issue && !secret ? describeValue(issue.input) : undefined;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeNames[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `required: expected ${expected}`;
      const quote = issue.expected === 'string' && typeof issue.input === 'number' ? ' (quote the value to make it a string)' : '';
      return `expected ${expected}, got ${got ?? typeOf(issue.input)}${quote}`;
    }
    case 'invalid_value': {
      const required = issue.input === undefined ? 'required: ' : '';
      return `${required}expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got ? `, got ${got}` : ''}`;
    }
    case 'too_small':
    case 'too_big':
      return `${issue.message.replace(/^Too (small|big): /, '')}${got && !Array.isArray(issue.input) ? `, got ${got}` : ''}`;
    case 'invalid_union': {
      const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : undefined;
      return options ? `expected one of ${options.map((v) => JSON.stringify(v)).join(', ')}` : `expected ${issue.message}`;
    }
    default:
      return `${issue.message}${got ? `, got ${got}` : ''}`;
  }
}

/** zod's type names as a YAML author knows them. */
const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

function describeValue(value: unknown): string | undefined {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return undefined;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

function formatKeyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text === '' ? String(segment) : `${text}.${String(segment)}`;
  }, '');
}

/**
 * The source offset for a key path: the value's node, or the key itself when `atKey` (unknown
 * keys) or the value is empty; for a path that does not exist (a missing key), the deepest
 * existing parent, so the user is sent to the mapping where the key belongs.
 */
function offsetOf(doc: Document, path: readonly PropertyKey[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return offset;
      const keyOffset = rangeStart(pair.key);
      if (last && (atKey || pair.value === null || rangeStart(pair.value) === undefined)) return keyOffset ?? offset;
      node = pair.value;
      offset = rangeStart(node) ?? keyOffset ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) return offset;
      node = item;
      offset = rangeStart(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return (node as YamlNode | null | undefined)?.range?.[0];
}

function knownKeys(path: readonly PropertyKey[]): string[] | undefined {
  let schema: z.ZodType = inventorySchema;
  for (const segment of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject && typeof segment === 'string') {
      const next: z.ZodType | undefined = (schema.shape as Record<string, z.ZodType>)[segment];
      if (!next) return undefined;
      schema = next;
    } else if (schema instanceof z.ZodArray && typeof segment === 'number') {
      schema = schema.element as z.ZodType;
    } else {
      return undefined;
    }
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) current = current.unwrap() as z.ZodType;
    // A preprocessed schema (hosts fill in defaults first) has its keys on the schema it feeds.
    else if (current instanceof z.ZodPipe) current = current.out as z.ZodType;
    else return current;
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
