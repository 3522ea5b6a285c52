import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOpenSshLogin, windowsAgentPipe } from '../../src/transport/login.js';

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'klab-login-home-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('which SSH agents klab asks, as OpenSSH would on each platform', () => {
  it('on Windows: SSH_AUTH_SOCK, then the OpenSSH agent pipe, then Pageant; none running here, so each is passed over by name', async () => {
    const login = await findOpenSshLogin({ platform: 'win32', env: { SSH_AUTH_SOCK: join(home, 'agent.sock') }, home });
    expect(login.agents).toEqual([]);
    expect(login.passedOver.map((line) => line.replace(/: no answer .*/, ''))).toEqual([
      `the SSH agent (SSH_AUTH_SOCK=${join(home, 'agent.sock')})`,
      `the Windows OpenSSH agent (${windowsAgentPipe})`,
      'Pageant',
    ]);
  });

  it('on Windows, SSH_AUTH_SOCK naming the OpenSSH pipe is asked once', async () => {
    const login = await findOpenSshLogin({ platform: 'win32', env: { SSH_AUTH_SOCK: windowsAgentPipe }, home });
    expect(login.passedOver.filter((line) => line.includes('openssh-ssh-agent'))).toHaveLength(1);
  });

  it('elsewhere only SSH_AUTH_SOCK, and no agent at all when it is unset', async () => {
    expect((await findOpenSshLogin({ platform: 'linux', env: {}, home })).passedOver).toEqual([]);
    expect((await findOpenSshLogin({ platform: 'darwin', env: { SSH_AUTH_SOCK: join(home, 'a.sock') }, home })).passedOver).toHaveLength(1);
  });
});
