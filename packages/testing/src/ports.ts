import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';

/**
 * The first port of the kernel's ephemeral range: ports the kernel hands out for `listen(0)`
 * and for the local end of every outgoing connection. A port picked below it is never taken
 * by those between the moment a test picks it and the moment its process binds it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12_000) return low;
  } catch {
    // not Linux: the IANA range starts at 49152
  }
  return 49_152;
}

const LOW = 10_000;
const HIGH = ephemeralLow() - 1;
const handedOut = new Set<number>();

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on, for a server that runs in another process (where `listen(0)`
 * cannot be read back). Picked at random outside the ephemeral range, so neither another
 * test's `listen(0)` nor an outgoing connection can take it before the server binds it.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(LOW, HIGH + 1);
    if (handedOut.has(port)) continue;
    if (await canListen(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port found between ${LOW} and ${HIGH} on ${host}`);
}

/**
 * Writes `request` on a fresh loopback connection and resolves with everything the server sent
 * once it ends its side (its FIN), keeping ours open: what a client that never closes sees.
 */
export function halfOpenRequest(port: number, request: string): Promise<{ socket: Socket; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve({ socket, text }));
    socket.on('error', reject);
    socket.write(request);
  });
}

/** The variables that move the embedded default's listeners (one per platform port). */
const EMBEDDED_PORT_VARIABLES = ['PATCHBAY_JEEDOM_PORT', 'PATCHBAY_COMODOJO_PORT', 'PATCHBAY_DOMOGIK_REQ_REP_PORT', 'PATCHBAY_DOMOGIK_PUB_PORT', 'PATCHBAY_DOMOGIK_SUB_PORT', 'PATCHBAY_MQTT_PORT'] as const;

/**
 * An environment that runs the embedded default on free ports: the platforms' standard ones
 * (55009, 40410-40412, 10042, 1883) lie where a busy test machine may hold one.
 */
export async function embeddedDefaultEnv(): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { PATCHBAY_CONFIG: '' };
  for (const name of EMBEDDED_PORT_VARIABLES) env[name] = String(await freePort());
  return env;
}
