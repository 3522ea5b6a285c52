// Starting and stopping one VM. qemu daemonizes after it has opened its disk, sockets and
// forwarded port, so a start either fails right away with qemu's own message or leaves a
// running VM whose pid is in its pidfile. Every signal the lab sends goes to that pid only,
// and only after /proc confirms the process is still this VM's qemu (pids get reused).
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { LabOperationError } from './errors.js';
import { qemuArgs, type VmLaunch } from './qemu-args.js';
import { qmpExecute } from './qmp.js';

const qemuBinary = 'qemu-system-x86_64';

export async function startVm(vm: VmLaunch, cwd: string): Promise<number> {
  await rm(vm.qmpSocket, { force: true });
  const result = await execa(qemuBinary, qemuArgs(vm), { cwd, reject: false, stdin: 'ignore', all: true });
  if (result.exitCode !== 0) {
    throw new LabOperationError(`qemu did not start ${vm.name}: ${(result.all ?? '').trim() || `exit ${result.exitCode ?? result.signal}`}`);
  }
  const pid = await runningPid(vm.pidFile);
  if (pid === undefined) throw new LabOperationError(`qemu for ${vm.name} exited right after starting; see ${vm.consoleLog}`);
  return pid;
}

/** The pid of this VM's qemu, or undefined when it is not running. */
export async function runningPid(pidFile: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const at = cmdline.indexOf('-pidfile');
    return at >= 0 && cmdline[at + 1] === pidFile ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(pidFile: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await runningPid(pidFile)) === undefined) return true;
    await sleep(250);
  }
  return false;
}

export interface StopResult {
  /** How the VM ended: it powered itself off, qemu quit, or it had to be killed. */
  how: 'not-running' | 'powered-off' | 'quit' | 'killed';
}

/**
 * Stops a VM. `graceful` asks the guest to power off (ACPI) and waits, so its disk is
 * consistent for the next start; otherwise qemu is told to quit at once (destroy). A VM
 * that ignores both is killed by pid.
 */
export async function stopVm(vm: Pick<VmLaunch, 'name' | 'qmpSocket' | 'pidFile'>, graceful: boolean, powerOffTimeoutMs = 120_000): Promise<StopResult> {
  const pid = await runningPid(vm.pidFile);
  if (pid === undefined) return { how: 'not-running' };
  if (graceful && (await powerDown(vm, powerOffTimeoutMs))) return { how: 'powered-off' };
  const quit = await qmpExecute(vm.qmpSocket, 'quit', undefined, 5_000).then(() => true, () => false);
  if (quit && (await waitForExit(vm.pidFile, 10_000))) return { how: 'quit' };
  if ((await runningPid(vm.pidFile)) === pid) {
    process.kill(pid, 'SIGKILL');
    if (!(await waitForExit(vm.pidFile, 10_000))) throw new LabOperationError(`qemu of ${vm.name} (pid ${pid}) survived SIGKILL`);
  }
  return { how: 'killed' };
}

/** How often the power button is pressed again while a guest has not reacted. */
const powerButtonRepeatMs = 10_000;

/**
 * Presses the ACPI power button until the guest powers off or `timeoutMs` passes. One press
 * is not enough: a guest still booting has nobody listening to the button yet (systemd-logind
 * opens it late in boot) and the press is lost; once shutdown has begun, more presses do nothing.
 */
async function powerDown(vm: Pick<VmLaunch, 'qmpSocket' | 'pidFile'>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pressed = await qmpExecute(vm.qmpSocket, 'system_powerdown').then(() => true, () => false);
    // qemu closes its monitor as the guest powers off, so a refused press may mean it just did.
    if (!pressed) return (await runningPid(vm.pidFile)) === undefined;
    if (await waitForExit(vm.pidFile, Math.min(powerButtonRepeatMs, deadline - Date.now()))) return true;
  }
  return false;
}

/** A hard reset, as the reset button does: the guest reboots without shutting down. */
export async function resetVm(vm: Pick<VmLaunch, 'qmpSocket'>): Promise<void> {
  await qmpExecute(vm.qmpSocket, 'system_reset');
}
