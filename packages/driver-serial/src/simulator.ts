import { describeError, silentLogger, type BackoffPolicy, type JsonValue, type Logger, type ReplyInit } from '@patchbay/core';
import { SimulatedDevice, simulatedDescription } from '@patchbay/driver-sim';
import { formatKvValue, parseKvValue } from './codec.js';
import { framingConfig, type CodecName, type FramingConfig } from './config.js';
import { createFramer, preview, type Framer } from './framing.js';
import { Link } from './link.js';
import { serialTransport } from './transport.js';

/** Options of {@link serveSimulatedDevice}. */
export interface SimulatedSerialOptions {
  /** The serial port or pseudo-terminal to speak on (the device's end of a socat pair). */
  path: string;
  /** What to speak; `jsonl` by default. */
  codec?: CodecName;
  /** Period of temperature and humidity reports, ms (default 1000). */
  interval?: number;
  /** Framing, as in the driver's options (default: newline-delimited). */
  framing?: FramingConfig;
  baudRate?: number;
  maxFrameBytes?: number;
  initial?: Partial<{ temperature: number; humidity: number; relay: boolean }>;
  /** Random source for the drift (tests pass a seeded one). */
  random?: () => number;
  logger?: Logger;
  /** Reopen back-off when the line goes away (default: up to 1 s, like the driver). */
  reconnect?: BackoffPolicy;
}

/** A running simulated device on a serial line. */
export interface SimulatedSerialDevice {
  /** The device logic, for tests that want to read or drive it. */
  readonly device: SimulatedDevice;
  /** True while the port is open. */
  readonly connected: boolean;
  /** Commands answered so far. */
  readonly answered: number;
  stop(): Promise<void>;
}

/** A command as the device reads it off the line. */
type DeviceCommand = { id: string | undefined; channel?: string; action?: string; value?: JsonValue };

/**
 * Runs the simulated device (from `@patchbay/driver-sim`) as real firmware would: on a serial
 * line, speaking the `jsonl` or `kv` codec from the device's side. It reports every channel
 * each time the line opens, drifts on the interval, answers commands, and reopens the line
 * when it goes away (socat restarted), so both ends of a test are real.
 */
export async function serveSimulatedDevice(options: SimulatedSerialOptions): Promise<SimulatedSerialDevice> {
  const logger = options.logger ?? silentLogger;
  const codec = options.codec ?? 'jsonl';
  const framing = framingConfig.parse(options.framing ?? { type: 'delimiter' });
  const maxFrameBytes = options.maxFrameBytes ?? 4096;
  let framer: Framer | undefined;
  let answered = 0;
  let down = false;

  const send = (payload: string): void => {
    if (!framer || !link.isOpen) return; // a device with no line just talks to nobody
    try {
      link.write(framer.encode(Buffer.from(payload, 'utf8')));
    } catch (error) {
      logger.warn({ err: error }, `simulated device: cannot write to ${options.path}: ${describeError(error)}`);
    }
  };

  const device = new SimulatedDevice(
    {
      interval: options.interval ?? 1000,
      initial: { temperature: 21, humidity: 45, relay: false, ...options.initial },
      random: options.random,
    },
    (channel, value) => send(codec === 'jsonl' ? JSON.stringify({ channel, value }) : `${channel}=${formatKvValue(value, { booleans: 'words' })}`),
  );

  const answer = (command: DeviceCommand, reply: ReplyInit): void => {
    answered++;
    if (codec === 'kv') {
      send(reply.ok ? (reply.value === undefined ? 'ok' : `ok=${formatKvValue(reply.value, { booleans: 'words' })}`) : `error=${reply.error}`);
      return;
    }
    if (command.id === undefined) return; // nobody to answer: the driver's timeout says so
    send(JSON.stringify(reply.ok ? { id: command.id, ok: true, value: reply.value } : { id: command.id, ok: false, error: reply.error }));
  };

  const sink = {
    frame(payload: Buffer): void {
      const command = codec === 'jsonl' ? readJsonCommand(payload) : readKvCommand(payload);
      if (typeof command === 'string') {
        logger.warn(`simulated device: ${command}`);
        if (codec === 'kv') answer({ id: undefined }, { ok: false, error: command });
        return;
      }
      if ('error' in command) {
        answer({ id: command.id }, { ok: false, error: command.error });
        return;
      }
      answer(command, device.command(command));
    },
    bad: (kind: string, detail: string) => logger.warn(`simulated device: ${kind} frame from the driver: ${detail}`),
  };

  const link = new Link({
    transport: serialTransport({ path: options.path, baudRate: options.baudRate ?? 115_200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false }),
    backoff: options.reconnect ?? { delays: [100, 250, 500, 1000], jitter: 0.2 },
    maxQueuedWrites: 10_000,
    label: options.path,
    logger,
    handlers: {
      up: () => {
        framer = createFramer(framing, { maxFrameBytes, sink });
        down = false;
        logger.info(`simulated device: speaking ${codec} on ${options.path}`);
        // Like firmware after a reset: say what it is (jsonl can carry a description) and
        // everything once, so the host is current at once.
        if (codec === 'jsonl') send(JSON.stringify({ describe: { ...simulatedDescription(options.interval ?? 1000), name: 'Simulated thermostat (serial)' } }));
        device.reportAll();
      },
      data: (chunk) => framer?.push(chunk),
      down: (reason) => {
        framer?.end();
        framer = undefined;
        // Once per outage, not once per retry.
        if (!down) logger.warn(`simulated device: ${reason}; reopening until it is back`);
        down = true;
      },
    },
  });

  await link.start();
  device.start();
  return {
    device,
    get connected() {
      return link.isOpen;
    },
    get answered() {
      return answered;
    },
    async stop() {
      device.stop();
      await link.stop();
      framer = undefined;
    },
  };
}

/** Reads `{"id":"c1","channel":"relay","value":true}` or `{"id":"c2","action":"refresh"}`. */
function readJsonCommand(payload: Buffer): DeviceCommand | { id: string; error: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return `invalid JSON command (${describeError(error)}): ${preview(payload)}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return `a command must be a JSON object: ${preview(payload)}`;
  const record = parsed as Record<string, JsonValue>;
  const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : undefined;
  if (id === undefined) return `command without an id: ${preview(payload)}`;
  if (typeof record.channel === 'string') return { id, channel: record.channel, value: record.value };
  if (typeof record.action === 'string') return { id, action: record.action };
  return { id, error: 'a command names a "channel" or an "action"' };
}

/** Reads `relay=1` (a channel command) or `refresh` (an action). */
function readKvCommand(payload: Buffer): DeviceCommand | string {
  const line = payload.toString('utf8').trim();
  if (line.length === 0) return 'empty command';
  const eq = line.indexOf('=');
  if (eq < 0) return { id: undefined, action: line };
  if (eq === 0) return `command without a channel name: ${preview(payload)}`;
  return { id: undefined, channel: line.slice(0, eq), value: parseKvValue(line.slice(eq + 1)) };
}
