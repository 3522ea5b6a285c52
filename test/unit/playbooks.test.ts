import { describe, expect, it } from 'vitest';
import { KlabError, exitCodes } from '../../src/errors.js';
import { PlaybookError, loadPlaybooks, parsePlaybook, resolveStage } from '../../src/stages/playbook.js';
import { playbooksDir } from '../../src/stages/paths.js';

const file = '/playbooks/07-sample.yaml';

function problemOf(source: string, name = file): string {
  try {
    parsePlaybook(name, source);
  } catch (error) {
    expect(error).toBeInstanceOf(PlaybookError);
    return (error as Error).message;
  }
  throw new Error('expected the playbook to be rejected');
}

describe('shipped playbooks', () => {
  it('load and validate, numbered 00 to 10 in order', async () => {
    const stages = await loadPlaybooks(playbooksDir());
    expect(stages.map((s) => s.id)).toEqual([
      '00-preflight', '01-hosts', '02-ssh', '03-kernel', '04-ipvs', '05-containerd',
      '06-kube-packages', '07-control-plane', '08-network', '09-workers', '10-storage',
    ]);
    for (const stage of stages) expect(stage.tasks.length).toBeGreaterThan(0);
  });
});

describe('playbook validation', () => {
  it('accepts a task of each kind and normalises it', () => {
    const stage = parsePlaybook(
      file,
      `name: sample
description: d
tasks:
  - name: write
    id: w
    template: { src: a/b.conf, dest: /etc/b.conf, mode: "0600" }
  - name: run
    hosts: workers
    when: { var: cluster.proxyMode, equals: ipvs }
    command: { run: "true", onChange: [w] }
`,
    );
    expect(stage.id).toBe('07-sample');
    expect(stage.tasks[0]).toMatchObject({ kind: 'template', spec: { mode: 0o600, secret: false } });
    expect(stage.tasks[1]).toMatchObject({ kind: 'command', hosts: 'workers', spec: { timeoutSeconds: 600 } });
  });

  it('names the file, the task and the problem when a task has no kind', () => {
    const message = problemOf(`name: sample\ndescription: d\ntasks:\n  - name: Load modules\n    hosts: all\n`);
    expect(message).toContain(file);
    expect(message).toContain('task 1 "Load modules"');
    expect(message).toContain('expected exactly one task kind');
  });

  it('rejects a task with two kinds', () => {
    const message = problemOf(`name: sample\ndescription: d\ntasks:\n  - name: both\n    command: { run: x }\n    wait: { command: y }\n`);
    expect(message).toContain('found command and wait');
  });

  it('rejects unknown keys, naming their path', () => {
    const message = problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    command: { run: x, unles: y }\n`);
    expect(message).toMatch(/task 1 "t" \(tasks\[0\]\.command\)/);
    expect(message).toContain('unles');
  });

  it('rejects a file mode that is not octal', () => {
    const message = problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    template: { src: a, dest: /a, mode: "0999" }\n`);
    expect(message).toContain('tasks[0].template.mode');
    expect(message).toContain('octal');
  });

  it('rejects onChange naming a task that does not come earlier', () => {
    const message = problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    command: { run: x, onChange: [later] }\n  - name: u\n    id: later\n    command: { run: y }\n`);
    expect(message).toContain('"later" is not one');
  });

  it('rejects a relative destination and a template path leaving templates/', () => {
    expect(problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    template: { src: a, dest: etc/a }\n`)).toContain('absolute path');
    expect(problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    template: { src: a/../../x, dest: /a }\n`)).toContain('inside templates/');
  });

  it('rejects a check with two tests or a condition with two operators', () => {
    expect(problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    check: { unique: host.vars.a, clockSkew: { maxSeconds: 1 }, message: m }\n`)).toContain(
      'exactly one of assert, unique, clockSkew',
    );
    expect(problemOf(`name: sample\ndescription: d\ntasks:\n  - name: t\n    when: { var: a, equals: 1, in: [2] }\n    command: { run: x }\n`)).toContain('exactly one of equals');
  });

  it('requires the name inside to match the file name', () => {
    expect(problemOf(`name: other\ndescription: d\ntasks:\n  - name: t\n    command: { run: x }\n`)).toContain('expected "sample"');
  });

  it('reports YAML syntax errors with the file', () => {
    expect(problemOf(`name: [unclosed\n`)).toContain('not valid YAML');
  });
});

describe('stage names on the command line', () => {
  it('accepts the number, the name or both', async () => {
    const stages = await loadPlaybooks(playbooksDir());
    for (const selector of ['03', '3', 'kernel', '03-kernel', 'KERNEL']) expect(resolveStage(stages, selector).id).toBe('03-kernel');
  });

  it('answers an unknown name with a usage error listing the stages', async () => {
    const stages = await loadPlaybooks(playbooksDir());
    let caught: unknown;
    try {
      resolveStage(stages, 'kernl');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KlabError);
    expect((caught as KlabError).exitCode).toBe(exitCodes.usage);
    expect((caught as KlabError).hint).toContain('00-preflight, 01-hosts, 02-ssh, 03-kernel, 04-ipvs, 05-containerd');
  });
});
