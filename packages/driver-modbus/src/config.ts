import { ChannelClassSchema, StateClassSchema } from '@patchbay/core';
import { z } from 'zod';

/** Reconnect back-off (ms, the last repeats); capped at 1 s so a returning line is used within 2 s. */
const reconnect = z
  .object({
    delays: z.array(z.number().int().min(0).max(600_000)).min(1).default([100, 250, 500, 1000]),
    jitter: z.number().min(0).max(1).default(0.2),
  })
  .strict()
  .prefault({});

/** Settings every connection has. */
const common = {
  /** How long a slave has to answer one request. */
  timeoutMs: z.number().int().min(10).max(60_000).default(1000),
  reconnect,
};

/** Modbus RTU on a serial line (an RS-485 adapter, or a pty in tests). */
const rtuConnection = z
  .object({
    type: z.literal('rtu'),
    path: z.string().min(1),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    ...common,
  })
  .strict();

/** Modbus TCP (MBAP header), or RTU frames carried over a TCP socket (serial-to-Ethernet converters). */
const tcpConnection = z
  .object({
    type: z.enum(['tcp', 'rtu-over-tcp']),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65_535).default(502),
    /** How long a TCP connect may take before the attempt counts as failed. */
    connectTimeoutMs: z.number().int().min(10).max(60_000).default(2000),
    ...common,
  })
  .strict();

/** Where the slave is. Devices with the same path (or host and port) share one connection. */
export const connectionConfig = z.discriminatedUnion('type', [rtuConnection, tcpConnection]);
export type ConnectionConfig = z.output<typeof connectionConfig>;

/** The four Modbus tables. */
export const tableName = z.enum(['coil', 'discrete', 'input', 'holding']);
export type TableName = z.output<typeof tableName>;

/** How the registers of a channel are read. */
export const valueType = z.enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32']);
export type ValueType = z.output<typeof valueType>;

/** One channel of the register map. */
export const channelConfig = z
  .object({
    table: tableName,
    /** Zero-based protocol address (register 40001 of a datasheet is holding address 0). */
    address: z.number().int().min(0).max(65_535),
    /** Defaults to `bool` for coils and discrete inputs, `uint16` for registers. */
    type: valueType.optional(),
    /** 32-bit types: `big` = high word first (the Modbus convention), `little` = low word first. */
    wordOrder: z.enum(['big', 'little']).default('big'),
    /** `little` swaps the two bytes of every register. */
    byteOrder: z.enum(['big', 'little']).default('big'),
    /** value = raw * scale + offset (and back for writes). */
    scale: z.number().finite().refine((v) => v !== 0, 'scale must not be 0').default(1),
    offset: z.number().finite().default(0),
    /** Raw integer value → name; the channel becomes an enum of the names. */
    enum: z.record(z.string().regex(/^-?\d+$/, 'enum keys are raw integer values'), z.string().min(1).max(64)).optional(),
    /** `bool` from one bit (0 = least significant) of an input or holding register. */
    bit: z.number().int().min(0).max(15).optional(),
    name: z.string().min(1).max(128).optional(),
    unit: z.string().min(1).max(16).optional(),
    class: ChannelClassSchema.optional(),
    stateClass: StateClassSchema.optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    writable: z.boolean().default(false),
  })
  .strict();
export type ChannelConfig = z.output<typeof channelConfig>;

const channelName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'channel names are 1-64 letters, digits, "_", "." or "-"');

/** Options of the `modbus` driver. */
export const modbusConfig = z
  .object({
    connection: connectionConfig,
    /** The slave address on the bus (Modbus TCP devices often ignore it; gateways route by it). */
    unitId: z.number().int().min(0).max(255).default(1),
    pollIntervalMs: z.number().int().min(10).max(86_400_000).default(1000),
    /** This many request timeouts in a row make the device offline. */
    offlineAfterTimeouts: z.number().int().min(1).max(1000).default(3),
    /** Unused addresses a read may span to save a request (some devices refuse reads of holes: keep 0 for them). */
    maxGap: z.object({ registers: z.number().int().min(0).max(124).default(0), bits: z.number().int().min(0).max(1999).default(0) }).strict().prefault({}),
    /** Largest request; lower them for devices that refuse long reads. */
    maxRegistersPerRead: z.number().int().min(1).max(125).default(125),
    maxBitsPerRead: z.number().int().min(1).max(2000).default(2000),
    name: z.string().min(1).max(128).optional(),
    manufacturer: z.string().min(1).max(128).optional(),
    model: z.string().min(1).max(128).optional(),
    channels: z.record(channelName, channelConfig).refine((c) => Object.keys(c).length > 0, 'the register map needs at least one channel'),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const [name, channel] of Object.entries(config.channels)) {
      const problem = channelProblem(channel);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['channels', name], message: problem });
    }
  });

/** Validated options of the `modbus` driver. */
export type ModbusConfig = z.output<typeof modbusConfig>;

const bitTables = new Set<TableName>(['coil', 'discrete']);

/** The channel's type with its default filled in. */
export function typeOf(channel: ChannelConfig): ValueType {
  return channel.type ?? (bitTables.has(channel.table) ? 'bool' : 'uint16');
}

/** How many registers (or bits) the channel occupies. */
export function widthOf(channel: ChannelConfig): number {
  const type = typeOf(channel);
  return type === 'int32' || type === 'uint32' || type === 'float32' ? 2 : 1;
}

/** Why a channel cannot work as configured, or undefined. Refused at config check, not at run time. */
function channelProblem(channel: ChannelConfig): string | undefined {
  const type = typeOf(channel);
  const bits = bitTables.has(channel.table);
  if (channel.writable && channel.table !== 'coil' && channel.table !== 'holding') {
    return `a ${channel.table === 'discrete' ? 'discrete input' : 'input register'} is read-only: only coils and holding registers can be writable`;
  }
  if (bits && type !== 'bool') return `a ${channel.table} holds single bits: its type must be bool, not ${type}`;
  if (!bits && type === 'bool' && channel.bit === undefined) return 'a bool read from a register needs `bit` (0-15)';
  if (channel.bit !== undefined && (bits || type !== 'bool')) return '`bit` is only for bool channels of input or holding registers';
  if (channel.bit !== undefined && channel.writable) return 'a bit inside a register cannot be writable (a write would overwrite the other 15 bits)';
  if (channel.address + widthOf(channel) - 1 > 65_535) return `a ${type} at ${channel.address} runs past address 65535`;
  if (channel.enum !== undefined && (type === 'bool' || type === 'float32')) return `enum values need an integer type, not ${type}`;
  if (channel.enum !== undefined && (channel.scale !== 1 || channel.offset !== 0)) return 'enum values and scale/offset do not mix';
  if (channel.enum !== undefined && new Set(Object.values(channel.enum)).size !== Object.keys(channel.enum).length) return 'enum names must be unique';
  if (type === 'bool' && (channel.scale !== 1 || channel.offset !== 0)) return 'scale and offset are for numbers, not bool';
  if ((channel.wordOrder !== 'big' || channel.byteOrder !== 'big') && (bits || type === 'bool')) return 'word and byte order are for registers';
  if (channel.min !== undefined && channel.max !== undefined && channel.min > channel.max) return 'min is above max';
  return undefined;
}
