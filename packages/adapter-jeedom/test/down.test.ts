import net from 'node:net';
import { captureLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { jeedomConfig } from '../src/index.js';
import { CommandSocket, type JeedomMessage } from '../src/internal.js';
import { phpCore, sendRaw } from './peer.js';
import { APIKEY, startRig, type Rig } from './rig.js';

const REJECTED = 'patchbay_jeedom_rejected_messages_total';

/** `levels` nested JSON arrays. */
function nested(levels: number): string {
  return `${'['.repeat(levels)}${']'.repeat(levels)}`;
}

function command(fields: Record<string, unknown>, apikey: string = APIKEY): string {
  return JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', ...fields, apikey });
}

describe('jeedom - downward channel (§3)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('jeedom - §10.16 one JSON object then EOF (no LF) is one message, and it becomes a command', async () => {
    rig = await startRig({});
    const back = await sendRaw(rig.port(), command({ value: true, id: '7' }));
    const [received] = await rig.waitCommands(1);
    expect(received).toMatchObject({ device: 'dev1', channel: 'relay', value: true, ref: '7', origin: 'jeedom' });
    expect(back.length).toBe(0);
  });

  it('jeedom - §10.17 only the bytes up to the first LF are the message; the rest is ignored', async () => {
    rig = await startRig({});
    await sendRaw(rig.port(), `${command({ value: 1, id: 'a' })}\n${command({ value: 2, id: 'b' })}\ngarbage`);
    await sendRaw(rig.port(), command({ value: 3, id: 'c' }));
    const commands = await rig.waitCommands(2);
    expect(commands.map((c) => c.ref)).toEqual(['a', 'c']);
    expect(rig.logger.find(/./, 'error')).toEqual([]);
  });

  it('jeedom - §10.18 sends zero bytes and closes the connection after the message (client sees EOF)', async () => {
    rig = await startRig({});
    // The client keeps its side open: the gateway must close after the LF.
    const back = await sendRaw(rig.port(), `${command({ value: 1 })}\n`, { end: false });
    expect(back.length).toBe(0);
    await rig.waitCommands(1);
  });

  it('jeedom - §10.19 200 back-to-back connections are all processed, in arrival order', async () => {
    rig = await startRig({});
    const port = rig.port();
    const sends: Promise<Buffer>[] = [];
    for (let i = 0; i < 200; i++) {
      // Each connection opens as soon as the previous one has written (well under 1 ms apart).
      const written = new Promise<void>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(command({ value: i, id: String(i) }), () => resolve()));
        sends.push(new Promise((done) => socket.on('close', () => done(Buffer.alloc(0)))));
      });
      await written;
    }
    await Promise.all(sends);
    const commands = await rig.waitCommands(200);
    expect(commands.map((c) => c.value)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('jeedom - §10.20 PHP json_encode escapes (\\/, \\u00e9, surrogate pairs) decode to the right characters', async () => {
    rig = await startRig({});
    const sent = await phpCore(['send', String(rig.port()), APIKEY, JSON.stringify({ action: 'command', device: 'dev1', channel: 'label', value: 'a/b é 😀', id: 'php' })]);
    expect(sent.payload).toContain('a\\/b \\u00e9 \\ud83d\\ude00');
    const [received] = await rig.waitCommands(1);
    expect(received?.value).toBe('a/b é 😀');
  });

  it('jeedom - §10.21 a wrong apikey (case, trailing space, any character) is dropped with an "Invalid apikey" ERROR', async () => {
    rig = await startRig({});
    const wrong = [APIKEY.toLowerCase(), `${APIKEY} `, `${APIKEY.slice(0, -1)}X`, ''];
    for (const key of wrong) await sendRaw(rig.port(), command({ value: true }, key));
    await sendRaw(rig.port(), command({ value: false, id: 'good' }));
    const commands = await rig.waitCommands(1);
    expect(commands.map((c) => c.ref)).toEqual(['good']);
    expect(rig.logger.find(/Invalid apikey/, 'error')).toHaveLength(wrong.length);
    expect(rig.metrics.get(REJECTED)).toBe(wrong.length);
    // Never the key, right or wrong, in a log line (§8.11).
    expect(rig.logger.lines.filter((l) => l.message.includes(APIKEY.slice(0, 20)) || l.message.toLowerCase().includes(APIKEY.toLowerCase().slice(0, 20)))).toEqual([]);
  });

  it('jeedom - §10.22 no apikey, empty, non-JSON, invalid UTF-8 and a JSON array each give one ERROR and the gateway keeps serving', async () => {
    rig = await startRig({});
    const bad: [string, string | Buffer, RegExp][] = [
      ['no apikey', JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', value: 1 }), /no apikey/],
      ['empty connection', '', /Empty message/],
      ['non-JSON bytes', 'hello \u0001 world', /not JSON/],
      ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
      ['a JSON array', JSON.stringify([{ apikey: APIKEY }]), /expected a JSON object, got an array/],
    ];
    for (const [index, [, data, pattern]] of bad.entries()) {
      await sendRaw(rig.port(), data);
      await sendRaw(rig.port(), command({ value: index, id: `ok${index}` }));
      await rig.waitCommands(index + 1);
      expect(rig.logger.find(pattern, 'error')).toHaveLength(1);
    }
    expect(rig.logger.find(/./, 'error')).toHaveLength(bad.length);
    expect(rig.metrics.get(REJECTED)).toBe(bad.length);
  });

  it('jeedom - §8.11 ERROR lines preview bad messages without the key, whole, cut off or misplaced', async () => {
    rig = await startRig({});
    const bad = [
      // PHP's json_encode puts apikey last: a message missing its closing brace ends with it.
      `{"cmd":"send","data":["0A1B2C"],"apikey":"${APIKEY}"`,
      `{"action":"command","device":"dev1","apikey":"${APIKEY.slice(0, 30)}`,
      `{"note":"${APIKEY}",}`,
      JSON.stringify({ apikey: 'wrong', data: { apikey: APIKEY } }),
    ];
    for (const data of bad) await sendRaw(rig.port(), data);
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    await rig.waitCommands(1);
    expect(rig.logger.find(/not JSON.*\[redacted\]/, 'error')).toHaveLength(3);
    expect(rig.logger.find(/Invalid apikey.*\[redacted\]/, 'error')).toHaveLength(1);
    // What is not the key is still shown.
    expect(rig.logger.find(/"cmd\\":\\"send\\"/, 'error')).toHaveLength(1);
    for (const line of rig.logger.lines) expect(JSON.stringify(line)).not.toContain(APIKEY.slice(0, 16));
  });

  it('jeedom - §10.23 a stalled connection delays no other and is closed after the idle timeout with one ERROR', async () => {
    rig = await startRig({ idleTimeoutMs: 1500 });
    const stalled = net.connect({ host: '127.0.0.1', port: rig.port() });
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('{"action":"command",');
    const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    await sendRaw(rig.port(), command({ value: true, id: 'while-stalled' }));
    await rig.waitCommands(1);
    expect(stalled.destroyed).toBe(false);
    await closed;
    await rig.logger.waitFor(/stalled/, { level: 'error' });
    expect(rig.logger.find(/./, 'error')).toHaveLength(1);
    expect(rig.metrics.get(REJECTED)).toBe(1);
  });

  it('jeedom - §10.24 a 1 MiB message ending at EOF is processed', async () => {
    rig = await startRig({});
    const big = 'x'.repeat(1024 * 1024);
    await sendRaw(rig.port(), command({ channel: 'blob', value: big, id: 'big' }));
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    const commands = await rig.waitCommands(2);
    expect(commands.find((c) => c.ref === 'big')?.value).toHaveLength(big.length);
    expect(rig.logger.find(/./, 'error')).toEqual([]);
  });

  it('jeedom - by default a message much over the 1 MiB of §10.24 is refused', async () => {
    rig = await startRig({});
    await sendRaw(rig.port(), command({ channel: 'blob', value: 'w'.repeat(1280 * 1024) })).catch(() => Buffer.alloc(0));
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    const commands = await rig.waitCommands(1);
    expect(commands.map((c) => c.ref)).toEqual(['after']);
    expect(rig.logger.find(/longer than maxMessageBytes \(1114112 bytes\)/, 'error')).toHaveLength(1);
  });

  it('jeedom - a message over maxMessageBytes is refused with one ERROR, others still served', async () => {
    rig = await startRig({ maxMessageBytes: 64 * 1024 });
    await sendRaw(rig.port(), command({ channel: 'blob', value: 'y'.repeat(200 * 1024) })).catch(() => Buffer.alloc(0));
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    const commands = await rig.waitCommands(1);
    expect(commands.map((c) => c.ref)).toEqual(['after']);
    expect(rig.logger.find(/longer than maxMessageBytes/, 'error')).toHaveLength(1);
  });

  it('jeedom - other actions are logged and ignored; "cmd" is read like "action"', async () => {
    rig = await startRig({});
    await sendRaw(rig.port(), JSON.stringify({ action: 'think', message: 'hi', apikey: APIKEY }));
    await sendRaw(rig.port(), JSON.stringify({ cmd: 'command', device: 'dev1', channel: 'relay', value: 1, apikey: APIKEY }));
    await rig.waitCommands(1);
    expect(rig.logger.find(/Unknown action "think"/, 'warn')).toHaveLength(1);
  });

  it('jeedom - an unknown action of a megabyte is quoted in its warning cut to 80 characters, with its length', async () => {
    rig = await startRig({});
    const action = 'x'.repeat(1024 * 1024);
    await sendRaw(rig.port(), JSON.stringify({ action, apikey: APIKEY }));
    const line = await rig.logger.waitFor(/^Unknown action "x+… \(1048578 characters\) from socket; ignored/, { level: 'warn' });
    expect(line.message.length).toBeLessThan(200);
  });

  it('jeedom - §10.6 "localhost" binds 127.0.0.1 exactly, "" binds every IPv4 interface', async () => {
    expect(jeedomConfig.parse({ apikey: 'k', socketHost: 'localhost' }).socketHost).toBe('127.0.0.1');
    expect(jeedomConfig.parse({ apikey: 'k', socketHost: '' }).socketHost).toBe('0.0.0.0');
    expect(jeedomConfig.parse({ apikey: 'k' }).socketHost).toBe('127.0.0.1');
    rig = await startRig({ socketHost: 'localhost' });
    await sendRaw(rig.port(), command({ value: true }));
    await rig.waitCommands(1);
  });

  it('jeedom - a busy port is retried with back-off while the rest of the gateway works', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    rig = await startRig({ socketPort: port });
    await rig.logger.waitFor(/Fatal error: .*EADDRINUSE/, { level: 'error' });
    expect(rig.gateway.health().hosts.find((h) => h.id === 'jeedom')?.status).toBe('unknown');
    rig.driver.emit('temperature', 20);
    await rig.other.waitFor((e) => e.kind === 'state' && e.value === 20);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rig.logger.waitFor(/Listening on/, { level: 'info' });
    await sendRaw(port, command({ value: true, id: 'late' }));
    const commands = await rig.waitCommands(1);
    expect(commands[0]?.ref).toBe('late');
  });

  it('jeedom - a command without a device or channel name gets one ERROR and a failed reply, and the gateway keeps serving', async () => {
    rig = await startRig({});
    await sendRaw(rig.port(), JSON.stringify({ action: 'command', channel: 'relay', value: 1, id: 'no-device', apikey: APIKEY }));
    await rig.logger.waitFor(/Invalid command from socket/, { level: 'error' });
    await sendRaw(rig.port(), command({ value: true, id: 'fine' }));
    const commands = await rig.waitCommands(1);
    expect(commands.map((c) => c.ref)).toEqual(['fine']);
    expect(rig.logger.find(/./, 'error')).toHaveLength(1);
    expect(rig.metrics.get(REJECTED)).toBe(1);
  });

  it('jeedom - a message nested deeper than 64 levels is one ERROR, with a wrong key or the right one, and nothing is written back', async () => {
    rig = await startRig({});
    // About 200 KB, far under maxMessageBytes: a wrong key once made the "Invalid apikey" line
    // overflow the stack and kill the process; with the right key the debug line did.
    const refused = [`{"apikey":"wrong","x":${nested(100_000)}}`, `{"action":"command","device":"dev1","channel":"relay","value":${nested(100_000)},"apikey":"${APIKEY}"}`];
    for (const data of refused) expect((await sendRaw(rig.port(), data)).length).toBe(0);
    // The limit counts the object itself: 64 levels pass, 65 do not.
    await sendRaw(rig.port(), `{"action":"think","x":${nested(63)},"apikey":"${APIKEY}"}`);
    await sendRaw(rig.port(), `{"action":"think","x":${nested(64)},"apikey":"${APIKEY}"}`);
    await sendRaw(rig.port(), command({ value: [[{ a: [1] }]], id: 'nested' }));
    const commands = await rig.waitCommands(1);
    expect(commands.map((c) => c.ref)).toEqual(['nested']);
    expect(rig.logger.find(/Unknown action "think"/, 'warn')).toHaveLength(1);
    expect(rig.logger.find(/nested deeper than 64 levels/, 'error')).toHaveLength(3);
    expect(rig.logger.find(/./, 'error')).toHaveLength(3);
    expect(rig.metrics.get(REJECTED)).toBe(3);
  });

  it('jeedom - an unexpected error while reading a message is one ERROR, not a crash; the socket keeps serving', async () => {
    const logger = captureLogger();
    // A logger that fails once on the per-message debug line stands for any bug in the read path.
    let broken = true;
    const failing = {
      ...logger,
      debug: () => {
        if (!broken) return;
        broken = false;
        throw new Error('debug sink broken');
      },
    };
    const received: JeedomMessage[] = [];
    let rejected = 0;
    const socket = new CommandSocket({
      host: '127.0.0.1',
      port: 0,
      apikey: APIKEY,
      maxMessageBytes: 1 << 20,
      messageTimeoutMs: 10_000,
      maxConnections: 64,
      maxBufferedBytes: 1 << 24,
      logger: failing,
      rejected: { inc: () => void rejected++ },
      onMessage: (message, done) => {
        received.push(message);
        done();
      },
    });
    await socket.listen();
    try {
      expect((await sendRaw(socket.port as number, command({ value: 1 }))).length).toBe(0);
      await logger.waitFor(/could not be read \(debug sink broken\)/, { level: 'error' });
      await sendRaw(socket.port as number, command({ value: 2 }));
      expect(received.map((m) => m.value)).toEqual([2]);
      expect(logger.find(/./, 'error')).toHaveLength(1);
      expect(rejected).toBe(1);
    } finally {
      await socket.close();
    }
  });

  it('jeedom - a command the core fails to take (submit rejects) is one ERROR, not an unhandled rejection', async () => {
    rig = await startRig({}, { context: { submit: () => Promise.reject(new Error('core broke')) } });
    await sendRaw(rig.port(), command({ value: true, id: 'lost' }));
    await rig.logger.waitFor(/Send command to demon error: core broke/, { level: 'error' });
    await sendRaw(rig.port(), JSON.stringify({ action: 'think', apikey: APIKEY }));
    await rig.logger.waitFor(/Unknown action "think"/, { level: 'warn' });
    expect(rig.logger.find(/./, 'error')).toHaveLength(1);
  });
});
