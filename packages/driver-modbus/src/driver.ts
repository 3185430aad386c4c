import { ErrorCodes, quoteForLog, type CommandEvent, type Driver, type DriverContext, type JsonValue, type ReplyInit } from '@patchbay/core';
import { BadInputReporter, createCounters } from './badInput.js';
import { acquireBus, releaseBus, type Bus, type BusListener, type ModbusClient } from './bus.js';
import { typeOf, widthOf, type ChannelConfig, type ModbusConfig } from './config.js';
import { classifyFailure } from './errors.js';
import { planReads, type ReadRequest } from './planner.js';
import { confirmedValue, decodeChannel, describeMap, encodeChannel } from './values.js';

/** A driver instance, with one poll cycle exposed for the bench (`./internal`). */
export interface ModbusDriver extends Driver {
  /** Runs one poll cycle now (every read of the plan, in order). */
  pollCycle(): Promise<void>;
}

/** Options for tests and the bench. */
export interface ModbusDriverOptions {
  /** Start polling on start (default true); the bench drives `pollCycle` itself. */
  autoPoll?: boolean;
}

async function readTable(client: ModbusClient, request: ReadRequest): Promise<{ words?: number[]; bits?: boolean[] }> {
  switch (request.table) {
    case 'coil':
      return { bits: (await client.readCoils(request.address, request.count)).data };
    case 'discrete':
      return { bits: (await client.readDiscreteInputs(request.address, request.count)).data };
    case 'input':
      return { words: (await client.readInputRegisters(request.address, request.count)).data };
    default:
      return { words: (await client.readHoldingRegisters(request.address, request.count)).data };
  }
}

/**
 * The `modbus` driver: describes the device from its register map, polls it with the fewest
 * reads the map allows (on a bus shared with the other devices of the same line), reports the
 * values that changed, and writes coils and holding registers on command.
 */
export function createModbusDriver(config: ModbusConfig, ctx: DriverContext, options: ModbusDriverOptions = {}): ModbusDriver {
  const plan = planReads(config.channels, { maxRegisters: config.maxRegistersPerRead, maxBits: config.maxBitsPerRead, maxGap: config.maxGap });
  const counters = createCounters((name, help) => ctx.counter(name, help));
  const last = new Map<string, JsonValue>();
  let bus: Bus | undefined;
  let reporter: BadInputReporter | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let cycle: Promise<void> | undefined;
  let timeoutsInARow = 0;
  let availability: 'online' | 'offline' | undefined;
  let linkDown = false;
  let everUp = false;
  const where = (): string => `unit ${config.unitId} on ${bus?.label ?? 'its bus'}`;

  const setAvailability = (state: 'online' | 'offline', reason?: string): void => {
    if (availability === state) return;
    availability = state;
    ctx.availability(state, reason);
  };

  const listener: BusListener = {
    up: () => {
      if (everUp) counters.reconnects.inc();
      everUp = true;
      linkDown = false;
      ctx.status('alive');
      // Back as soon as the line is: poll now rather than at the next tick.
      if (running && options.autoPoll !== false) schedule(0);
    },
    down: (reason) => {
      if (!linkDown) {
        linkDown = true;
        ctx.status('unknown', `${reason}; reconnecting`);
      }
      setAvailability('offline', reason);
    },
    bad: (kind, detail) => reporter?.report(kind, detail),
  };

  const emitIfChanged = (name: string, value: JsonValue): void => {
    const previous = last.get(name);
    if (previous === value) return;
    last.set(name, value);
    ctx.emit(name, value);
  };

  const readOnce = async (request: ReadRequest): Promise<boolean> => {
    const active = bus;
    if (active === undefined || !active.isUp) return false;
    try {
      const data = await active.run({ unitId: config.unitId, listener, run: (client) => readTable(client, request) });
      counters.reads.inc();
      timeoutsInARow = 0;
      setAvailability('online');
      for (const { name, channel, index } of request.channels) {
        const slice = data.bits !== undefined ? { bits: data.bits.slice(index, index + 1) } : { words: data.words?.slice(index, index + widthOf(channel)) ?? [] };
        const decoded = decodeChannel(channel, slice);
        if (decoded.ok) emitIfChanged(name, decoded.value);
        else reporter?.report('invalid', `channel ${name} (${channel.table} ${channel.address}): ${decoded.error}`);
      }
      return true;
    } catch (error) {
      const failure = classifyFailure(error);
      const names = request.channels.map((c) => c.name).join(', ');
      if (failure.timeout) {
        counters.timeouts.inc();
        timeoutsInARow++;
        if (timeoutsInARow >= config.offlineAfterTimeouts) {
          setAvailability('offline', `no answer from ${where()} to ${timeoutsInARow} requests in a row`);
        }
      } else if (failure.exception) {
        counters.exceptions.inc();
      }
      reporter?.once(`read:${request.table}:${request.address}:${failure.code}`, `modbus ${where()}: reading ${request.table} ${request.address}+${request.count} (${names}) failed: ${failure.message}`, { code: failure.code });
      return false;
    }
  };

  const pollCycle = async (): Promise<void> => {
    for (const request of plan) {
      if (!running) return;
      await readOnce(request);
    }
  };

  const schedule = (delay: number): void => {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (cycle !== undefined) return; // the cycle in progress reschedules itself
      const started = Date.now();
      cycle = pollCycle().finally(() => {
        cycle = undefined;
        if (timer === undefined) schedule(Math.max(0, config.pollIntervalMs - (Date.now() - started)));
      });
    }, delay);
  };

  const write = async ({ name, channel }: { name: string; channel: ChannelConfig }, value: JsonValue | undefined, what: string): Promise<ReplyInit> => {
    const encoded = encodeChannel(channel, value);
    if (!encoded.ok) return { ok: false, code: ErrorCodes.COMMAND_INVALID, error: `${what} refused: ${encoded.error}` };
    const active = bus;
    if (active === undefined || !active.isUp) {
      return { ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `${what} not sent: ${active?.label ?? 'the bus'} is down (${active?.downReason ?? 'not started'})` };
    }
    try {
      await active.run({
        unitId: config.unitId,
        listener,
        run: async (client) => {
          if ('coil' in encoded) {
            const reply = await client.writeCoil(channel.address, encoded.coil);
            // FC5 echoes the coil's new state: that echo is the device's confirmation.
            if (reply.state !== encoded.coil) throw new Error(`the device confirmed ${reply.state} for a write of ${encoded.coil}`);
          } else if (widthOf(channel) === 1) {
            const reply = await client.writeRegister(channel.address, encoded.words[0] as number);
            if (reply.value !== encoded.words[0]) throw new Error(`the device confirmed ${reply.value} for a write of ${encoded.words[0]}`);
          } else {
            // 32-bit values take two registers, which only the multiple write (FC16) sets at once.
            const reply = await client.writeRegisters(channel.address, encoded.words);
            if (reply.length !== encoded.words.length) throw new Error(`the device confirmed ${reply.length} registers for a write of ${encoded.words.length}`);
          }
        },
      });
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.timeout) counters.timeouts.inc();
      if (failure.exception) counters.exceptions.inc();
      return { ok: false, code: failure.code, error: `${what} failed: ${failure.message}` };
    }
    const confirmed = confirmedValue(channel, encoded);
    if (!confirmed.ok) return { ok: true };
    emitIfChanged(name, confirmed.value);
    return { ok: true, value: confirmed.value };
  };

  return {
    pollCycle,
    async start() {
      running = true;
      availability = undefined;
      timeoutsInARow = 0;
      everUp = false;
      linkDown = false;
      last.clear();
      bus = acquireBus(config.connection, { logger: ctx.logger, offlineAfterTimeouts: config.offlineAfterTimeouts });
      reporter = new BadInputReporter({ logger: ctx.logger, counters, label: bus.label });
      ctx.describe(describeMap(config, `Modbus unit ${config.unitId} on ${bus.label}`));
      bus.attach(listener);
      await bus.start();
      if (bus.isUp) listener.up();
      else if (!linkDown) listener.down(bus.downReason);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await cycle;
      const active = bus;
      bus = undefined;
      if (active !== undefined) {
        active.detach(listener);
        await releaseBus(active);
      }
    },
    async send(command: CommandEvent): Promise<ReplyInit> {
      const what = command.channel !== undefined ? `command ${command.id} (${command.channel}=${quoteForLog(command.value)})` : `command ${command.id} (action ${command.action})`;
      if (command.channel === undefined) {
        if (command.action === 'refresh') {
          await pollCycle();
          return { ok: true };
        }
        return { ok: false, code: ErrorCodes.COMMAND_INVALID, error: `${what}: the modbus driver knows only the action "refresh"` };
      }
      const channel = Object.hasOwn(config.channels, command.channel) ? config.channels[command.channel] : undefined;
      if (channel === undefined) return { ok: false, code: ErrorCodes.COMMAND_INVALID, error: `${what}: no channel ${quoteForLog(command.channel)} in the register map` };
      if (!channel.writable) {
        return { ok: false, code: ErrorCodes.READ_ONLY, error: `${what}: ${command.channel} (${channel.table} ${channel.address}, ${typeOf(channel)}) is read-only` };
      }
      return write({ name: command.channel, channel }, command.value, what);
    },
  };
}
