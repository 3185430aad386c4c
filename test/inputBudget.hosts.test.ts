/**
 * Issue 13.7, the gateway-wide input budget: each listener has a budget of its own for
 * unfinished client input, and every listener of the gateway draws the same bytes on
 * `gateway.maxBufferedBytes`, enforced as the bytes arrive. A real `patchbay` process with
 * Jeedom's command socket and Comodojo's RPC socket, and a 1 MiB gateway-wide budget: partial
 * Jeedom messages, each within the Jeedom listener's own 16 MiB, hold most of it; a partial
 * Comodojo frame that would pass it is refused ("Server busy") with a log line that names the
 * gateway-wide budget, while a usual Comodojo request is still answered; once a Jeedom
 * connection closes, its bytes are given back and a frame of the same size is taken.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot, spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const KIB = 1024;
const apikey = 'input-budget-apikey-0123456789';

interface InputHealth {
  bufferedBytes: number;
  peakBytes: number;
  limitBytes: number;
  refused: number;
}

/** Opens a connection and writes `bytes` of a message that never ends (no LF, no EOF). */
async function partial(port: number, opening: string, bytes: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  socket.write(opening + 'x'.repeat(bytes - opening.length));
  return socket;
}

describe('the gateway-wide input budget (13.7)', () => {
  it('input budget - partial messages on one listener spend gateway.maxBufferedBytes; another listener refuses what would pass it, serves usual requests, and takes again once bytes are given back', async () => {
    const dir = tempDir('patchbay-input-budget-');
    cleanups.push(dir.remove);
    const [httpPort, socketPort, rpcPort] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: httpPort }, maxBufferedBytes: 1024 * KIB },
        log: { format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 3_600_000 } }],
        hosts: [
          // Each Jeedom partial stays within the listener's own budget (16 MiB) and message cap.
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, maxMessageBytes: 2048 * KIB } },
          { id: 'rpc', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${rpcPort}` } },
        ],
      }),
    );
    const gateway = spawnPatchbay(['run', '--config', config]);
    cleanups.push(() => gateway.stop());
    await gateway.waitStarted(30_000);
    const health = async (): Promise<InputHealth> => ((await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { input: InputHealth }).input;
    // What the gateway holds is only seen in its health: polled until it shows the bytes sent.
    const healthUntil = async (check: (input: InputHealth) => boolean, what: string): Promise<InputHealth> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const input = await health();
        if (check(input)) return input;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(input)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    expect(await health()).toEqual({ bufferedBytes: 0, peakBytes: 0, limitBytes: 1024 * KIB, refused: 0 });

    const jeedom = [];
    for (let i = 0; i < 3; i++) jeedom.push(await partial(socketPort, `{"apikey":"${apikey}","cmd":"`, 300 * KIB));
    await healthUntil((input) => input.bufferedBytes >= 3 * 300 * KIB - 3 * KIB, 'the Jeedom partials drawn on the budget');

    // 400 KiB of a frame: 336 KiB past the connection's free 64 KiB, more than the ~124 KiB left.
    const refusedFrame = await partial(rpcPort, '{"jsonrpc":"2.0","method":"device.list","params":["', 400 * KIB);
    let answer = '';
    refusedFrame.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    await new Promise((resolve) => refusedFrame.once('close', resolve));
    // Comodojo's wire: one base64 line per frame (a PHP-serialized array); the greeting first.
    const frames = answer.split('\n').filter(Boolean).map((line) => Buffer.from(line, 'base64').toString('utf8'));
    expect(frames.at(-1)).toBe('a:2:{s:6:"status";b:0;s:7:"message";s:11:"Server busy";}');
    await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('gateway-wide input budget (gateway.maxBufferedBytes 1048576) is spent'), { what: 'the refusal line' });
    expect((await health()).refused).toBe(1);

    // A usual request fits the connection's free allowance: still answered.
    const { stdout } = await run('php', [join(repoRoot, 'test/peers/comodojo/client.php'), `tcp://127.0.0.1:${rpcPort}`, 'device.list', '[]']);
    expect(stdout).toContain('thermo1');

    // One Jeedom connection gone: its 300 KiB go back, and the same frame is now taken.
    const held = (await health()).bufferedBytes;
    (jeedom[0] as Socket).destroy();
    await healthUntil((input) => input.bufferedBytes <= held - 290 * KIB, 'the closed connection given back');
    const taken = await partial(rpcPort, '{"jsonrpc":"2.0","method":"device.list","params":["', 400 * KIB);
    await healthUntil((input) => input.bufferedBytes >= held - 300 * KIB + 330 * KIB, 'the second frame drawn on the budget');
    expect(taken.destroyed).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^patchbay_input_refused_total 1$/m);
    expect(metrics).toMatch(/^patchbay_input_budget_bytes 1048576$/m);
    expect(await gateway.stop()).toBe(0);
  });
});
