// Playbooks are data: one YAML file per stage, validated here with zod. A task names its
// target hosts, an optional condition, and exactly one of a small, fixed set of kinds that
// src/stages/tasks.ts knows how to run idempotently. Anything else in a playbook is an
// error that names the file, the task and the key, before any host is touched.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KlabError, exitCodes } from '../errors.js';

const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal file mode in quotes, such as "0644"')
  .transform((mode) => Number.parseInt(mode, 8));

/** Paths are mustache templates too, so a path may name the host: /var/lib/x/{{host.name}}. */
const absolutePath = z.string().regex(/^\/\S*$/, 'an absolute path on the host, such as /etc/hosts');
const taskId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase id such as containerd-config');
const varName = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a variable name such as machineId');
const varPath = z.string().regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/, 'a dotted name such as host.vars.containerdMajor');
const seconds = z.number().positive();
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/** A test on one value of the template view; exactly one operator. */
const conditionSchema = z
  .strictObject({
    var: varPath,
    equals: scalar.optional(),
    notEquals: scalar.optional(),
    in: z.array(scalar).min(1).optional(),
    atLeast: z.number().optional(),
    atMost: z.number().optional(),
    matches: z
      .string()
      .refine((source) => {
        try {
          new RegExp(source);
          return true;
        } catch {
          return false;
        }
      }, 'a valid regular expression')
      .optional(),
  })
  .refine((c) => ['equals', 'notEquals', 'in', 'atLeast', 'atMost', 'matches'].filter((k) => k in c).length === 1, {
    message: 'expected exactly one of equals, notEquals, in, atLeast, atMost, matches',
  });

const templateSchema = z.strictObject({
  /** A file under templates/, rendered with mustache. */
  src: z.string().regex(/^[a-z0-9][-a-z0-9_./]*$/, 'a path under templates/ such as containerd/config-v2.toml').refine((p) => !p.includes('..'), 'a path inside templates/'),
  dest: absolutePath,
  mode: fileMode.default(0o644),
  owner: z.string().regex(/^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$/, 'user or user:group').optional(),
  /** The rendered content is a secret: never logged, registered for redaction. */
  secret: z.boolean().default(false),
  /** Keep a copy of a differing file that klab did not write before replacing it. */
  backup: z.boolean().default(false),
});

const blockInFileSchema = z.strictObject({
  path: absolutePath,
  /** Names the block: `# BEGIN klab <id>` … `# END klab <id>`. */
  id: taskId,
  /** The block's lines, a mustache template. */
  block: z.string(),
  /** Mode for a file that does not exist yet; an existing file keeps its mode. */
  mode: fileMode.default(0o644),
});

const commandSchema = z.strictObject({
  run: z.string().min(1),
  /** A read-only guard: exit 0 means the work is already done. */
  unless: z.string().min(1).optional(),
  /** A path whose existence means the work is already done. */
  creates: absolutePath.optional(),
  /**
   * Ids of earlier tasks in this playbook: run only when one of them changed on this host, or
   * when this stage has not finished on the host before (an earlier run may have stopped
   * between the change and this command).
   */
  onChange: z.array(taskId).min(1).optional(),
  timeoutSeconds: seconds.default(600),
});

/** A Debian package name, optionally =version; checked again after rendering. */
export const debianPackage = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:*-]+)?$/;

const aptSchema = z.strictObject({
  /** Mustache templates allowed (a version captured earlier): kubeadm={{controlPlane.vars.kubePackageVersion}}. */
  packages: z
    .array(z.string().refine((p) => debianPackage.test(p.replace(/\{\{[^}]+\}\}/g, '0')), 'a Debian package name, optionally =version'))
    .min(1),
  timeoutSeconds: seconds.default(1200),
});

/** A file on the workstation, in the inventory's state folder (.klab), such as the fetched kubeconfig. */
const localFileSchema = z.strictObject({
  /** A plain file name inside .klab. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a file name inside .klab, such as kubeconfig'),
  /** The content, a mustache template (usually a captured value). */
  content: z.string().min(1),
  mode: fileMode.default(0o600),
  secret: z.boolean().default(true),
});

const waitSchema = z.strictObject({
  command: z.string().min(1),
  timeoutSeconds: seconds.default(120),
  intervalSeconds: seconds.default(2),
});

const captureSchema = z
  .strictObject({
    var: varName,
    command: z.string().min(1).optional(),
    file: absolutePath.optional(),
    /** A regular expression; the first group (or the whole match) becomes the value, '' when nothing matches. */
    match: z.string().optional(),
    secret: z.boolean().default(false),
  })
  .refine((c) => (c.command === undefined) !== (c.file === undefined), { message: 'expected exactly one of command or file' });

const checkSchema = z
  .strictObject({
    /** Per host: a condition on the template view. */
    assert: conditionSchema.optional(),
    /** Across the task's hosts: this value must differ on every host. */
    unique: varPath.optional(),
    /** Across the task's hosts: their clocks must agree within this many seconds. */
    clockSkew: z.strictObject({ maxSeconds: seconds }).optional(),
    severity: z.enum(['fail', 'warn']).default('fail'),
    /** Shown when the check does not hold (a mustache template). */
    message: z.string().min(1),
  })
  .refine((c) => [c.assert, c.unique, c.clockSkew].filter((v) => v !== undefined).length === 1, {
    message: 'expected exactly one of assert, unique, clockSkew',
  });

const kindSchemas = {
  template: templateSchema,
  blockinfile: blockInFileSchema,
  command: commandSchema,
  apt: aptSchema,
  localFile: localFileSchema,
  wait: waitSchema,
  capture: captureSchema,
  check: checkSchema,
} as const;

export type TaskKind = keyof typeof kindSchemas;
const taskKinds = Object.keys(kindSchemas) as TaskKind[];

export type TemplateSpec = z.output<typeof templateSchema>;
export type BlockInFileSpec = z.output<typeof blockInFileSchema>;
export type CommandSpec = z.output<typeof commandSchema>;
export type AptSpec = z.output<typeof aptSchema>;
export type LocalFileSpec = z.output<typeof localFileSchema>;
export type WaitSpec = z.output<typeof waitSchema>;
export type CaptureSpec = z.output<typeof captureSchema>;
export type CheckSpec = z.output<typeof checkSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type HostSelector = 'all' | 'control-plane' | 'workers';

const taskSchema = z
  .strictObject({
    name: z.string().min(1),
    id: taskId.optional(),
    hosts: z.enum(['all', 'control-plane', 'workers']).default('all'),
    when: conditionSchema.optional(),
    /** Shown with a failure: what the user can do about it. */
    hint: z.string().min(1).optional(),
    template: templateSchema.optional(),
    blockinfile: blockInFileSchema.optional(),
    command: commandSchema.optional(),
    apt: aptSchema.optional(),
    localFile: localFileSchema.optional(),
    wait: waitSchema.optional(),
    capture: captureSchema.optional(),
    check: checkSchema.optional(),
  })
  .superRefine((task, ctx) => {
    const kinds = taskKinds.filter((kind) => task[kind] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one task kind (${taskKinds.join(', ')}); found ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
      });
    }
  })
  .transform((task) => {
    const base = { name: task.name, id: task.id, hosts: task.hosts as HostSelector, when: task.when, hint: task.hint };
    if (task.template) return { ...base, kind: 'template' as const, spec: task.template };
    if (task.blockinfile) return { ...base, kind: 'blockinfile' as const, spec: task.blockinfile };
    if (task.command) return { ...base, kind: 'command' as const, spec: task.command };
    if (task.apt) return { ...base, kind: 'apt' as const, spec: task.apt };
    if (task.localFile) return { ...base, kind: 'localFile' as const, spec: task.localFile };
    if (task.wait) return { ...base, kind: 'wait' as const, spec: task.wait };
    if (task.capture) return { ...base, kind: 'capture' as const, spec: task.capture };
    // superRefine guarantees exactly one kind, so this is the check.
    return { ...base, kind: 'check' as const, spec: task.check as CheckSpec };
  });

export type Task = z.output<typeof taskSchema>;

const playbookSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'the stage name, matching the file name after NN-'),
    description: z.string().min(1),
    /** Static values for this playbook's templates: {{playbook.vars.NAME}}. */
    vars: z.record(z.string(), z.unknown()).default({}),
    tasks: z.array(taskSchema).min(1),
  })
  .superRefine((playbook, ctx) => {
    const seen = new Set<string>();
    playbook.tasks.forEach((task, index) => {
      if (task.kind === 'command') {
        for (const id of task.spec.onChange ?? []) {
          if (!seen.has(id)) {
            ctx.addIssue({ code: 'custom', path: ['tasks', index, 'command', 'onChange'], message: `expected the id of an earlier task; "${id}" is not one` });
          }
        }
      }
      if (task.id !== undefined) {
        if (seen.has(task.id)) ctx.addIssue({ code: 'custom', path: ['tasks', index, 'id'], message: `expected a unique task id; "${task.id}" is used twice` });
        seen.add(task.id);
      }
    });
  });

type PlaybookSpec = z.output<typeof playbookSchema>;

export interface Stage extends PlaybookSpec {
  /** `03-kernel`: the file name without .yaml, used in markers, logs and the CLI. */
  id: string;
  /** `03` */
  number: string;
  file: string;
  /** The playbook file's bytes, part of the stage digest. */
  source: string;
}

export class PlaybookError extends KlabError {
  constructor(
    readonly file: string,
    problems: readonly string[],
  ) {
    super(
      `playbook ${file} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      exitCodes.internal,
      'Playbooks ship with klab; if you edited this one, fix the keys named above.',
    );
  }
}

const stageFilePattern = /^(\d{2})-([a-z0-9][a-z0-9-]*)\.yaml$/;

/** Describes where a zod issue sits: `task 3 "Load modules" (tasks[2].command.run)`. */
function describeIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  const keyPath = issue.path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
  let where = keyPath || '(document)';
  if (issue.path[0] === 'tasks' && typeof issue.path[1] === 'number') {
    const tasks = (raw as { tasks?: unknown }).tasks;
    const task = Array.isArray(tasks) ? (tasks[issue.path[1]] as { name?: unknown } | undefined) : undefined;
    const name = typeof task?.name === 'string' ? ` "${task.name}"` : '';
    where = `task ${issue.path[1] + 1}${name} (${keyPath})`;
  }
  return `${where}: ${issue.message}`;
}

export function parsePlaybook(file: string, source: string): Stage {
  const base = path.basename(file);
  const match = stageFilePattern.exec(base);
  if (!match) throw new PlaybookError(file, [`the file name must look like NN-name.yaml (e.g. 03-kernel.yaml)`]);
  let raw: unknown;
  try {
    raw = parseYaml(source);
  } catch (error) {
    throw new PlaybookError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  const parsed = playbookSchema.safeParse(raw);
  if (!parsed.success) throw new PlaybookError(file, parsed.error.issues.map((issue) => describeIssue(raw, issue)));
  const [, number = '', name = ''] = match;
  if (parsed.data.name !== name) throw new PlaybookError(file, [`name: expected "${name}" (from the file name), found "${parsed.data.name}"`]);
  return { ...parsed.data, id: `${number}-${name}`, number, file, source };
}

/** Every NN-name.yaml in a folder, in stage order. */
export async function loadPlaybooks(dir: string): Promise<Stage[]> {
  const names = (await readdir(dir)).filter((n) => stageFilePattern.test(n)).sort();
  const stages: Stage[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    stages.push(parsePlaybook(file, await readFile(file, 'utf8')));
  }
  const numbers = new Set<string>();
  for (const stage of stages) {
    if (numbers.has(stage.number)) throw new PlaybookError(stage.file, [`stage number ${stage.number} is used by two playbooks`]);
    numbers.add(stage.number);
  }
  return stages;
}

/** Finds a stage by `03`, `3`, `kernel` or `03-kernel`; anything else is a usage error listing the stages. */
export function resolveStage(stages: readonly Stage[], selector: string): Stage {
  const wanted = selector.trim().toLowerCase();
  const found = stages.find(
    (s) => s.id === wanted || s.name === wanted || s.number === wanted || (/^\d+$/.test(wanted) && Number(s.number) === Number(wanted)),
  );
  if (found) return found;
  throw new KlabError(
    `unknown stage "${selector}"`,
    exitCodes.usage,
    `Stages are: ${stages.map((s) => s.id).join(', ')} (give the number, the name or both, e.g. 03, kernel or 03-kernel).`,
  );
}
