// The smallest question a Kafka listener answers in any state (ApiVersions v0), asked on a raw
// socket so a test can tell a listener that answers from one that is cut off, paused or gone.
import net from 'node:net';

/** What happened first: an answer, the far end closing, a refused connection, or nothing within the wait. */
export type ProbeOutcome = 'answered' | 'closed' | 'refused' | 'no answer';

/** An ApiVersions v0 request frame sent as `clientId`. */
export function apiVersionsRequest(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const frame = Buffer.alloc(4 + 10 + id.length);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt16BE(18, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(1, 8);
  frame.writeInt16BE(id.length, 12);
  id.copy(frame, 14);
  return frame;
}

/** Sends ApiVersions as `clientId` to `address` (host:port). */
export async function probeKafka(address: string, clientId: string, waitMs = 1_500): Promise<ProbeOutcome> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect(Number(port), host);
  try {
    return await new Promise<ProbeOutcome>((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), waitMs);
      const settle = (outcome: ProbeOutcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      socket.once('data', () => settle('answered'));
      socket.once('close', () => settle('closed'));
      socket.once('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNREFUSED' ? 'refused' : 'closed'));
      socket.write(apiVersionsRequest(clientId));
    });
  } finally {
    socket.destroy();
  }
}
