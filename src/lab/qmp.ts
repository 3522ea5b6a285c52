// A minimal client for qemu's machine protocol (QMP): newline-delimited JSON over the VM's
// unix socket. One connection per call keeps it simple; the lab sends few commands (power
// down, quit, reset, and later savevm/loadvm through human-monitor-command).
import net from 'node:net';
import { LabOperationError } from './errors.js';

type QmpReply = { return?: unknown; error?: { class: string; desc: string }; event?: string; QMP?: unknown };

export async function qmpExecute(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
  const socket = net.connect(socketPath);
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabOperationError(`QMP ${command} on ${socketPath} timed out after ${timeoutMs} ms`)), timeoutMs);
      let buffered = '';
      let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.on('error', (error) => fail(new LabOperationError(`cannot talk to qemu over ${socketPath}: ${error.message}`, 'Is the VM running? `klab lab status` shows it.', { cause: error })));
      socket.on('close', () => fail(new LabOperationError(`qemu closed ${socketPath} before answering ${command}`)));
      socket.on('data', (chunk) => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const reply = JSON.parse(line) as QmpReply;
          if (reply.event) continue;
          if (stage === 'greeting') {
            stage = 'capabilities';
            socket.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
          } else if (stage === 'capabilities') {
            if (reply.error) return fail(new LabOperationError(`QMP negotiation failed: ${reply.error.desc}`));
            stage = 'command';
            socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
          } else {
            clearTimeout(timer);
            if (reply.error) return reject(new LabOperationError(`QMP ${command} failed: ${reply.error.desc}`));
            return resolve(reply.return);
          }
        }
      });
    });
  } finally {
    socket.destroy();
  }
}
