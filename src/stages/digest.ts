// A stage's digest says "what this stage would put on this host": the playbook's bytes, the
// templates it renders, and the inventory values its templates and conditions refer to.
// Captured facts are left out on purpose (a clock reading or a join token changes on every
// run), and so is the private key (the public key stands for the pair).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunContext, HostView, TemplateView } from './context.js';
import type { Stage, Task } from './playbook.js';
import { PlaybookError } from './playbook.js';
import { referencedNames } from './render.js';

/** The script the `apt` task kind runs, a template like any other. */
export const aptScriptTemplate = 'apt/install.sh';

export class TemplateStore {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  load(src: string, usedBy: string): Promise<string> {
    let text = this.cache.get(src);
    if (!text) {
      const file = path.join(this.dir, ...src.split('/'));
      text = readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new PlaybookError(usedBy, [`template ${src}: cannot read ${file} (${error.code ?? error.message})`]);
      });
      this.cache.set(src, text);
    }
    return text;
  }
}

/** The inline templated strings of a task, each with a label for error messages. */
function inlineTemplates(task: Task): { text: string; field: string }[] {
  switch (task.kind) {
    case 'template':
      return [{ text: task.spec.dest, field: 'template.dest' }];
    case 'blockinfile':
      return [
        { text: task.spec.path, field: 'blockinfile.path' },
        { text: task.spec.block, field: 'blockinfile.block' },
      ];
    case 'command':
      return [
        { text: task.spec.run, field: 'command.run' },
        ...(task.spec.unless ? [{ text: task.spec.unless, field: 'command.unless' }] : []),
        ...(task.spec.creates ? [{ text: task.spec.creates, field: 'command.creates' }] : []),
      ];
    case 'apt':
      return task.spec.packages.map((text) => ({ text, field: 'apt.packages' }));
    case 'localFile':
      return [{ text: task.spec.content, field: 'localFile.content' }];
    case 'wait':
      return [{ text: task.spec.command, field: 'wait.command' }];
    case 'capture':
      return [{ text: task.spec.command ?? task.spec.file ?? '', field: task.spec.command ? 'capture.command' : 'capture.file' }];
    case 'check':
      return [{ text: task.spec.message, field: 'check.message' }];
  }
}

function templateFiles(stage: Stage): string[] {
  const files = new Set<string>();
  for (const task of stage.tasks) {
    if (task.kind === 'template') files.add(task.spec.src);
    if (task.kind === 'apt') files.add(aptScriptTemplate);
  }
  return [...files].sort();
}

function conditionPaths(task: Task): string[] {
  const paths: string[] = [];
  if (task.when) paths.push(task.when.var);
  if (task.kind === 'check') {
    if (task.spec.assert) paths.push(task.spec.assert.var);
    if (task.spec.unique) paths.push(task.spec.unique);
  }
  return paths;
}

const withoutVars = ({ vars: _vars, ...rest }: HostView): Omit<HostView, 'vars'> => rest;

function inventoryPart(view: TemplateView, root: string): unknown {
  switch (root) {
    case 'cluster':
      return view.cluster;
    case 'broker':
      return view.broker;
    case 'proxy':
      return view.proxy;
    case 'hosts':
      return view.hosts.map(withoutVars);
    case 'workers':
      return view.workers.map(withoutVars);
    case 'controlPlane':
      return view.controlPlane ? withoutVars(view.controlPlane) : null;
    case 'host':
      return withoutVars(view.host);
    case 'klab':
      return { publicKey: view.klab.publicKey };
    default:
      // playbook.vars is in the playbook's bytes; names inside sections are relative to the section.
      return undefined;
  }
}

export async function stageDigest(stage: Stage, context: RunContext, hostName: string, templates: TemplateStore): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`playbook ${stage.id}\n`).update(stage.source);
  const texts: string[] = [];
  for (const src of templateFiles(stage)) {
    const text = await templates.load(src, stage.file);
    hash.update(`\ntemplate ${src}\n`).update(text);
    texts.push(text);
  }
  for (const task of stage.tasks) texts.push(...inlineTemplates(task).map((t) => t.text));
  const roots = new Set<string>();
  for (const text of texts) for (const name of referencedNames(text, stage.file)) roots.add(name.split('.')[0] ?? name);
  for (const task of stage.tasks) for (const p of conditionPaths(task)) roots.add(p.split('.')[0] ?? p);
  const view = context.view(hostName, stage);
  for (const root of [...roots].sort()) {
    const part = inventoryPart(view, root);
    if (part !== undefined) hash.update(`\nvalue ${root}\n`).update(JSON.stringify(part));
  }
  return hash.digest('hex');
}
