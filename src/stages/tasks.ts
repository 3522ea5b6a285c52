// The fixed vocabulary of task kinds, each idempotent by construction: first look (read-only,
// also in dry-run), then change only what differs. Every change goes through HostStep.wet,
// the one place where dry-run turns an action into "would …".
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../state.js';
import type { ExecResult, Host } from '../transport/host.js';
import { RemoteFileNotFoundError } from '../transport/errors.js';
import { quote } from '../transport/shell.js';
import type { RunContext, TemplateView } from './context.js';
import type { TemplateStore } from './digest.js';
import { aptScriptTemplate } from './digest.js';
import type { AptSpec, BlockInFileSpec, CaptureSpec, CheckSpec, CommandSpec, Condition, LocalFileSpec, TemplateSpec, WaitSpec } from './playbook.js';
import { debianPackage } from './playbook.js';
import { MissingValueError, lookupPath, render } from './render.js';

/** A task that did not succeed on a host; the engine turns it into a failed outcome. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly exitCode?: number,
    readonly output?: string,
    readonly unfit = false,
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}

const readTimeoutMs = 60_000;

/** One task on one host: read-only probes run always; changes go through `wet`. */
export class HostStep {
  /** Descriptions of the changes made (or, in dry-run, that would be made). */
  readonly changes: string[] = [];

  constructor(
    readonly host: Host,
    readonly dryRun: boolean,
    private readonly context: RunContext,
  ) {}

  get changed(): boolean {
    return this.changes.length > 0;
  }

  /** A command that changes nothing (a guard, a probe): runs in dry-run too. */
  read(command: string, timeoutMs = readTimeoutMs): Promise<ExecResult> {
    return this.host.exec(command, { timeoutMs, secrets: this.context.secrets });
  }

  /** The single gate for every state-changing action. */
  async wet(description: string, action: () => Promise<void>): Promise<void> {
    this.changes.push(description);
    if (!this.dryRun) await action();
  }

  wetExec(command: string, timeoutMs: number, description = command): Promise<void> {
    return this.wet(`run ${description}`, async () => {
      const result = await this.host.exec(command, { timeoutMs, secrets: this.context.secrets });
      if (result.code !== 0) throw new TaskFailure(`exited with code ${result.code}`, result.code, result.stderr.trim() || result.stdout);
    });
  }

  wetPut(path: string, content: string, mode: number, owner: string | undefined, description: string): Promise<void> {
    return this.wet(description, () => this.host.put(path, content, { mode, ...(owner ? { owner } : {}) }));
  }
}

export interface TaskEnv {
  step: HostStep;
  view: TemplateView;
  context: RunContext;
  templates: TemplateStore;
  /** `playbooks/03-kernel.yaml task 2 "…"`, for error messages. */
  where: string;
  playbookFile: string;
}

export interface TaskResult {
  /** ok unless a change was made; "skipped" when a condition or dry-run left it undecided. */
  status?: 'ok' | 'skipped';
  detail: string;
  warning?: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const octal = (mode: number): string => mode.toString(8).padStart(3, '0');

function probeFileCommand(path: string): string {
  const p = quote(path);
  return `if [ -f ${p} ]; then sha256sum < ${p} | cut -d' ' -f1; stat -c '%a %U:%G' ${p}; else echo absent; fi`;
}

async function probeFile(env: TaskEnv, path: string): Promise<{ sha256: string; mode: string; owner: string } | undefined> {
  const result = await env.step.read(probeFileCommand(path));
  if (result.code !== 0) throw new TaskFailure(`cannot inspect ${path}`, result.code, result.stderr);
  const [hashLine = '', statLine = ''] = result.stdout.trim().split('\n');
  if (hashLine.trim() === 'absent') return undefined;
  const [mode = '', owner = ''] = statLine.trim().split(' ');
  return { sha256: hashLine.trim(), mode: mode.padStart(3, '0'), owner };
}

function ownerDiffers(wanted: string | undefined, actual: string): boolean {
  if (wanted === undefined) return false;
  return wanted.includes(':') ? wanted !== actual : wanted !== actual.split(':')[0];
}

export async function runTemplate(env: TaskEnv, spec: TemplateSpec): Promise<TaskResult> {
  const source = await env.templates.load(spec.src, env.playbookFile);
  const content = render(source, env.view, `${env.where} (template ${spec.src})`);
  if (spec.secret) env.context.addSecret(content);
  const dest = render(spec.dest, env.view, `${env.where} (template.dest)`);
  const current = await probeFile(env, dest);
  const mode = octal(spec.mode);
  if (current === undefined) {
    await env.step.wetPut(dest, content, spec.mode, spec.owner, `write ${dest} (new, mode ${mode})`);
    return { detail: `wrote ${dest}` };
  }
  if (current.sha256 !== sha256(content)) {
    if (spec.backup) {
      const backup = `${dest}.klab-backup-${new Date().toISOString().replace(/[-:.]/g, '')}`;
      await env.step.wetExec(`cp -p ${quote(dest)} ${quote(backup)}`, readTimeoutMs, `cp -p ${dest} ${backup}`);
    }
    await env.step.wetPut(dest, content, spec.mode, spec.owner, `write ${dest} (content differs)`);
    return { detail: `updated ${dest}` };
  }
  const fixes: string[] = [];
  if (current.mode !== mode) {
    await env.step.wetExec(`chmod ${mode} ${quote(dest)}`, readTimeoutMs);
    fixes.push(`mode ${current.mode} → ${mode}`);
  }
  if (spec.owner && ownerDiffers(spec.owner, current.owner)) {
    await env.step.wetExec(`chown ${spec.owner} ${quote(dest)}`, readTimeoutMs);
    fixes.push(`owner ${current.owner} → ${spec.owner}`);
  }
  return { detail: fixes.length > 0 ? `${dest}: ${fixes.join(', ')}` : `${dest} is up to date` };
}

async function readRemoteText(env: TaskEnv, path: string): Promise<string | undefined> {
  try {
    return (await env.step.host.get(path)).toString('utf8');
  } catch (error) {
    if (error instanceof RemoteFileNotFoundError) return undefined;
    throw error;
  }
}

/** Puts `block` between klab's markers: replaces an existing block in place, or appends one. */
export function withBlock(current: string, id: string, block: string): string {
  const begin = `# BEGIN klab ${id}`;
  const end = `# END klab ${id}`;
  const body = block === '' || block.endsWith('\n') ? block : `${block}\n`;
  const marked = `${begin}\n${body}${end}\n`;
  const lines = current.split('\n');
  const first = lines.findIndex((line) => line.trim() === begin);
  const last = first === -1 ? -1 : lines.findIndex((line, i) => i > first && line.trim() === end);
  if (first !== -1 && last !== -1) {
    const before = lines.slice(0, first).join('\n');
    const after = lines.slice(last + 1).join('\n');
    return `${before}${first > 0 ? '\n' : ''}${marked}${after}`;
  }
  if (current === '') return marked;
  return `${current}${current.endsWith('\n') ? '' : '\n'}${marked}`;
}

export async function runBlockInFile(env: TaskEnv, spec: BlockInFileSpec): Promise<TaskResult> {
  const block = render(spec.block, env.view, `${env.where} (blockinfile.block)`);
  const path = render(spec.path, env.view, `${env.where} (blockinfile.path)`);
  const current = await readRemoteText(env, path);
  const next = withBlock(current ?? '', spec.id, block);
  if (current === next) return { detail: `block ${spec.id} in ${path} is up to date` };
  let mode = spec.mode;
  if (current !== undefined) {
    const probe = await probeFile(env, path);
    if (probe) mode = Number.parseInt(probe.mode, 8);
  }
  await env.step.wetPut(path, next, mode, undefined, `${current === undefined ? 'create' : 'update'} block ${spec.id} in ${path}`);
  return { detail: `${current === undefined ? 'created' : 'updated'} block ${spec.id} in ${path}` };
}

export interface CommandState {
  /** Ids of the tasks of this stage that changed (or would change) on this host in this run. */
  changedIds: ReadonlySet<string>;
  /** Whether this stage's marker on the host was current before this run. */
  finishedBefore: boolean;
}

export async function runCommand(env: TaskEnv, spec: CommandSpec, state: CommandState): Promise<TaskResult> {
  if (spec.creates !== undefined) {
    const creates = render(spec.creates, env.view, `${env.where} (command.creates)`);
    const exists = await env.step.read(`test -e ${quote(creates)}`);
    if (exists.code === 0) return { detail: `already done (${creates} exists)` };
  }
  if (spec.unless !== undefined) {
    const guard = render(spec.unless, env.view, `${env.where} (command.unless)`);
    const result = await env.step.read(guard);
    if (result.code === 0) return { detail: 'already done' };
  }
  if (spec.onChange !== undefined) {
    const trigger = spec.onChange.find((id) => state.changedIds.has(id));
    if (trigger === undefined && state.finishedBefore) return { detail: `not needed (${spec.onChange.join(', ')} unchanged)` };
  }
  const command = render(spec.run, env.view, `${env.where} (command.run)`).trim();
  await env.step.wetExec(command, spec.timeoutSeconds * 1000);
  return { detail: `ran ${firstLine(command)}` };
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replaceAll('*', '.*')}$`);
}

/** Installed packages and their versions, from `dpkg-query -W -f='${Package} ${Status} ${Version}\n'`. */
export function installedVersions(dpkgQuery: string): Map<string, string> {
  const installed = new Map<string, string>();
  for (const line of dpkgQuery.split('\n')) {
    const [name, want, ok, status, version] = line.trim().split(/\s+/);
    // A held package (apt-mark hold, as stage 06 does) reads "hold ok installed".
    if (name && (want === 'install' || want === 'hold') && ok === 'ok' && status === 'installed' && version) installed.set(name, version);
  }
  return installed;
}

export async function runApt(env: TaskEnv, spec: AptSpec): Promise<TaskResult> {
  const packages = spec.packages.map((text) => render(text, env.view, `${env.where} (apt.packages)`).trim());
  const invalid = packages.filter((p) => !debianPackage.test(p));
  if (invalid.length > 0) throw new TaskFailure(`${env.where}: not a Debian package name (=version): ${invalid.map((p) => JSON.stringify(p)).join(', ')}`);
  const wanted = packages.map((spec) => {
    const [name = spec, version] = spec.split('=');
    return { spec, name, version };
  });
  const query = await env.step.read(`dpkg-query -W -f='\${Package} \${Status} \${Version}\\n' ${wanted.map((w) => w.name).join(' ')}`);
  const installed = installedVersions(query.stdout);
  const missing = wanted.filter((w) => {
    const version = installed.get(w.name);
    return version === undefined || (w.version !== undefined && !globToRegExp(w.version).test(version));
  });
  if (missing.length === 0) return { detail: `installed: ${wanted.map((w) => `${w.name} ${installed.get(w.name) ?? ''}`.trim()).join(', ')}` };
  // Only what is missing: naming an installed package to apt-get install would upgrade it.
  const toInstall = missing.map((m) => m.spec).join(' ');
  const script = render(await env.templates.load(aptScriptTemplate, env.playbookFile), { packages: toInstall }, aptScriptTemplate);
  await env.step.wetExec(script, spec.timeoutSeconds * 1000, `apt-get install ${toInstall}`);
  return { detail: `installed ${missing.map((m) => m.name).join(', ')}` };
}

/** Writes a file into the workstation's state folder (the kubeconfig fetched from the control plane). */
export async function runLocalFile(env: TaskEnv, spec: LocalFileSpec): Promise<TaskResult> {
  const content = render(spec.content, env.view, `${env.where} (localFile.content)`);
  const text = content.endsWith('\n') ? content : `${content}\n`;
  if (spec.secret) env.context.addSecret(content);
  const dir = env.context.localDir;
  if (dir === undefined) throw new TaskFailure(`${env.where}: no local state folder to write ${spec.name} into`);
  const file = path.join(dir, spec.name);
  const current = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (current === text) return { detail: `${file} is up to date` };
  await env.step.wet(`write ${file} on this workstation (mode ${octal(spec.mode)})`, () => writeFileAtomic(file, text, spec.mode));
  return { detail: `wrote ${file}` };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runWait(env: TaskEnv, spec: WaitSpec): Promise<TaskResult> {
  const command = render(spec.command, env.view, `${env.where} (wait.command)`);
  const deadline = Date.now() + spec.timeoutSeconds * 1000;
  for (;;) {
    const result = await env.step.read(command);
    if (result.code === 0) return { detail: `ready: ${firstLine(command)}` };
    if (env.step.dryRun) return { status: 'skipped', detail: `would wait up to ${spec.timeoutSeconds} s for: ${firstLine(command)}` };
    if (Date.now() + spec.intervalSeconds * 1000 > deadline) {
      throw new TaskFailure(`still not ready after ${spec.timeoutSeconds} s: ${firstLine(command)}`, result.code, result.stderr.trim() || result.stdout);
    }
    await sleep(spec.intervalSeconds * 1000);
  }
}

export async function runCapture(env: TaskEnv, spec: CaptureSpec): Promise<TaskResult> {
  let raw: string;
  if (spec.command !== undefined) {
    const command = render(spec.command, env.view, `${env.where} (capture.command)`);
    const result = await env.step.read(command);
    if (result.code !== 0) throw new TaskFailure(`exited with code ${result.code}`, result.code, result.stderr.trim() || result.stdout);
    raw = result.stdout;
  } else {
    const path = render(spec.file ?? '', env.view, `${env.where} (capture.file)`);
    const text = await readRemoteText(env, path);
    if (text === undefined) throw new TaskFailure(`${path} does not exist`);
    raw = text;
  }
  let value = raw.trim();
  if (spec.match !== undefined) {
    const found = new RegExp(spec.match, 'm').exec(raw);
    value = found ? (found[1] ?? found[0]).trim() : '';
  }
  env.context.setVar(env.step.host.name, spec.var, value, spec.secret);
  const shown = spec.secret ? '(secret)' : value.length > 60 ? `${value.slice(0, 57)}…` : JSON.stringify(value);
  return { detail: `${spec.var} = ${shown}` };
}

/** Whether a condition holds on a view; a missing value is an error, never a silent false. */
export function evaluateCondition(condition: Condition, view: object, where: string): boolean {
  const found = lookupPath(view, condition.var);
  if (found === undefined || found === null) throw new MissingValueError(where, [condition.var]);
  const value = String(found);
  if (condition.equals !== undefined) return value === condition.equals;
  if (condition.notEquals !== undefined) return value !== condition.notEquals;
  if (condition.in !== undefined) return condition.in.includes(value);
  if (condition.matches !== undefined) return new RegExp(condition.matches).test(value);
  const number = Number(value);
  if (value.trim() === '' || Number.isNaN(number)) throw new TaskFailure(`${where}: ${condition.var} is ${JSON.stringify(value)}, not a number`);
  if (condition.atLeast !== undefined) return number >= condition.atLeast;
  return number <= (condition.atMost ?? Number.POSITIVE_INFINITY);
}

export function runAssert(env: TaskEnv, spec: CheckSpec & { assert: Condition }): TaskResult {
  if (evaluateCondition(spec.assert, env.view, env.where)) return { detail: 'holds' };
  const message = render(spec.message, env.view, `${env.where} (check.message)`);
  if (spec.severity === 'warn') return { detail: 'does not hold (a warning)', warning: message };
  throw new TaskFailure(message, undefined, undefined, true);
}
