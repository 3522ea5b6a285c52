// klab-broker's listener and quorum flags: the one-listener form (--listen/--advertise) and
// named listeners, the controller address and the voters, and the errors that name what is
// wrong and where (flag or environment variable).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../broker/config.js';

const base = ['--node-id', '1', '--data-dir', '/tmp/klab-config-test'];

function load(args: string[], env: Record<string, string> = {}) {
  return loadConfig([...base, ...args], env);
}

function problem(args: string[], env: Record<string, string> = {}): string {
  try {
    load(args, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${args.join(' ')}`);
}

describe('the one-listener form', () => {
  it('is a listener named PLAINTEXT on 127.0.0.1:9092 by default, used between brokers too', () => {
    const config = load([]);
    expect(config.listeners).toEqual([{ name: 'PLAINTEXT', listen: { host: '127.0.0.1', port: 9092 }, advertise: null }]);
    expect(config.interBrokerListener).toBe('PLAINTEXT');
    expect(config.controllerListen).toBeNull();
    expect(config.voters).toBeNull();
  });

  it('takes --listen and --advertise, and --advertised-listeners for PLAINTEXT', () => {
    expect(load(['--listen', '0.0.0.0:19092', '--advertise', 'broker-1.example:31092']).listeners).toEqual([
      { name: 'PLAINTEXT', listen: { host: '0.0.0.0', port: 19092 }, advertise: { host: 'broker-1.example', port: 31092 } },
    ]);
    expect(load(['--listen', '0.0.0.0:19092', '--advertised-listeners', 'plaintext=b1:9092']).listeners[0]?.advertise).toEqual({
      host: 'b1',
      port: 9092,
    });
  });
});

describe('named listeners', () => {
  it('parses listeners, their advertised addresses and the inter-broker listener, from flags or environment', () => {
    const args = [
      '--listeners',
      'INTERNAL=0.0.0.0:9092,external=[::]:9094',
      '--advertised-listeners',
      'INTERNAL=klab-broker-1.klab-broker.klab.svc:9092,EXTERNAL=192.168.56.12:30094',
      '--inter-broker-listener',
      'internal',
    ];
    const expected = {
      listeners: [
        { name: 'INTERNAL', listen: { host: '0.0.0.0', port: 9092 }, advertise: { host: 'klab-broker-1.klab-broker.klab.svc', port: 9092 } },
        { name: 'EXTERNAL', listen: { host: '::', port: 9094 }, advertise: { host: '192.168.56.12', port: 30094 } },
      ],
      interBrokerListener: 'INTERNAL',
    };
    expect(load(args)).toMatchObject(expected);
    const env = {
      KLAB_BROKER_LISTENERS: args[1]!,
      KLAB_BROKER_ADVERTISED_LISTENERS: args[3]!,
      KLAB_BROKER_INTER_BROKER_LISTENER: args[5]!,
    };
    expect(load([], env)).toMatchObject(expected);
  });

  it('lets a listener on a specific address advertise that address, and defaults the inter-broker listener to the first', () => {
    const config = load(['--listeners', 'A=127.0.0.1:0,B=127.0.0.1:9094']);
    expect(config.listeners.map((listener) => listener.advertise)).toEqual([null, null]);
    expect(config.interBrokerListener).toBe('A');
  });

  it('refuses the two forms mixed', () => {
    expect(problem(['--listen', '127.0.0.1:9092', '--listeners', 'A=127.0.0.1:9093'])).toMatch(
      /--listeners and --listen were both given: use --listeners .* or --listen/,
    );
    expect(problem(['--listeners', 'A=127.0.0.1:9093'], { KLAB_BROKER_ADVERTISE: 'b:1' })).toMatch(
      /--listeners and KLAB_BROKER_ADVERTISE were both given/,
    );
    expect(problem(['--advertise', 'b:1', '--advertised-listeners', 'PLAINTEXT=b:2'])).toMatch(
      /--advertise and --advertised-listeners were both given/,
    );
  });

  it('names the entry that is not NAME=host:port', () => {
    expect(problem(['--listeners', 'INTERNAL=0.0.0.0:9092,EXTERNAL=0.0.0.0'])).toMatch(
      /--listeners="INTERNAL=0.0.0.0:9092,EXTERNAL=0.0.0.0" is invalid: entry "EXTERNAL=0.0.0.0" does not end in a host:port; expected NAME=host:port/,
    );
    expect(problem(['--listeners', '0.0.0.0:9092'])).toMatch(/entry "0.0.0.0:9092" is not NAME=host:port/);
    expect(problem(['--listeners', '9X=0.0.0.0:9092'])).toMatch(/entry "9X=0.0.0.0:9092" does not start with a listener name/);
    expect(problem(['--listeners', 'A=127.0.0.1:70000'])).toMatch(/entry "A=127.0.0.1:70000" does not end in a host:port/);
    expect(problem(['--listeners', 'A=0.0.0.0:9092', '--advertised-listeners', 'A=host:0'])).toMatch(
      /--advertised-listeners="A=host:0" is invalid: entry "A=host:0" does not end in a host:port with a port 1–65535/,
    );
  });

  it('refuses duplicate listener names and two listeners on one port', () => {
    expect(problem(['--listeners', 'A=127.0.0.1:9092,a=127.0.0.1:9093'])).toMatch(/--listeners names listener A more than once/);
    expect(problem(['--listeners', 'A=127.0.0.1:9092,B=0.0.0.0:9092', '--advertised-listeners', 'B=b:9092'])).toMatch(
      /listeners A \(127.0.0.1:9092\) and B \(0.0.0.0:9092\) would bind the same port/,
    );
  });

  it('refuses an advertised address for a listener that does not exist, or given twice', () => {
    expect(problem(['--listeners', 'INTERNAL=127.0.0.1:9092', '--advertised-listeners', 'EXTERNAL=203.0.113.7:30094'])).toMatch(
      /--advertised-listeners names listener EXTERNAL, which is not defined \(listeners: INTERNAL\)/,
    );
    expect(problem(['--listeners', 'A=127.0.0.1:9092', '--advertised-listeners', 'A=a:1,A=b:2'])).toMatch(
      /--advertised-listeners names listener A more than once/,
    );
  });

  it('requires an advertised address for a listener bound to a wildcard address', () => {
    expect(problem(['--listeners', 'INTERNAL=0.0.0.0:9092,EXTERNAL=[::]:9094', '--advertised-listeners', 'INTERNAL=b:9092'])).toMatch(
      /listener EXTERNAL binds \[::\]:9094, an address clients cannot connect to: give the address they should use in --advertised-listeners \(EXTERNAL=host:port\)/,
    );
  });

  it('refuses an inter-broker listener that is not defined', () => {
    expect(problem(['--listeners', 'A=127.0.0.1:9092', '--inter-broker-listener', 'REPLICATION'])).toMatch(
      /--inter-broker-listener names listener REPLICATION, which is not defined \(listeners: A\)/,
    );
    expect(problem([], { KLAB_BROKER_INTER_BROKER_LISTENER: 'OTHER' })).toMatch(
      /KLAB_BROKER_INTER_BROKER_LISTENER names listener OTHER, which is not defined \(listeners: PLAINTEXT\)/,
    );
  });
});

describe('the controller address and the voters', () => {
  const voters = '0@klab-broker-0.klab:9093,1@klab-broker-1.klab:9093,2@klab-broker-2.klab:9093';

  it('are parsed and carried in the config', () => {
    const config = load(['--controller-listen', '0.0.0.0:9093', '--voters', voters]);
    expect(config.controllerListen).toEqual({ host: '0.0.0.0', port: 9093 });
    expect(config.voters).toEqual([
      { nodeId: 0, address: { host: 'klab-broker-0.klab', port: 9093 } },
      { nodeId: 1, address: { host: 'klab-broker-1.klab', port: 9093 } },
      { nodeId: 2, address: { host: 'klab-broker-2.klab', port: 9093 } },
    ]);
    expect(load([], { KLAB_BROKER_CONTROLLER_LISTEN: 'klab-broker-1.klab:9093', KLAB_BROKER_VOTERS: voters }).voters).toHaveLength(3);
  });

  it('name the entry that is not ID@host:port', () => {
    expect(problem(['--controller-listen', '0.0.0.0:9093', '--voters', '0@a:9093,one@b:9093'])).toMatch(
      /--voters="0@a:9093,one@b:9093" is invalid: entry "one@b:9093" does not start with a node id/,
    );
    expect(problem(['--controller-listen', '0.0.0.0:9093', '--voters', '0@a:9093,1@b'])).toMatch(/entry "1@b" does not end in a host:port/);
  });

  it('refuse duplicate node ids and addresses, and a list without this node', () => {
    expect(problem(['--controller-listen', '0.0.0.0:9093', '--voters', '0@a:9093,1@b:9093,1@c:9093'])).toMatch(
      /--voters names node 1 more than once/,
    );
    expect(problem(['--controller-listen', '0.0.0.0:9093', '--voters', '0@a:9093,1@a:9093'])).toMatch(
      /--voters gives a:9093 to more than one node/,
    );
    expect(problem(['--controller-listen', '0.0.0.0:9093', '--voters', '0@a:9093,2@c:9093'])).toMatch(
      /--voters does not include this node \(--node-id 1\)/,
    );
  });

  it("require this node's controller address to match its voter entry, and not to clash with a listener", () => {
    expect(problem(['--controller-listen', '0.0.0.0:9999', '--voters', voters])).toMatch(
      /--controller-listen 0.0.0.0:9999 does not match this node's voter address klab-broker-1.klab:9093 in --voters/,
    );
    expect(problem(['--controller-listen', 'klab-broker-0.klab:9093', '--voters', voters])).toMatch(/does not match this node's voter address/);
    expect(problem(['--listen', '0.0.0.0:9093', '--controller-listen', '0.0.0.0:9093', '--voters', voters])).toMatch(
      /--controller-listen 0.0.0.0:9093 and listener PLAINTEXT \(0.0.0.0:9093\) would bind the same port/,
    );
  });

  it('need each other', () => {
    expect(problem(['--voters', voters])).toMatch(/--voters needs --controller-listen \(or KLAB_BROKER_CONTROLLER_LISTEN\)/);
    expect(problem(['--controller-listen', '0.0.0.0:9093'])).toMatch(/--controller-listen needs --voters \(or KLAB_BROKER_VOTERS\)/);
  });
});
