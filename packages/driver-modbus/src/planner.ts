import { widthOf, type ChannelConfig, type TableName } from './config.js';

/** One read request of a poll cycle, and the channels its reply carries. */
export interface ReadRequest {
  table: TableName;
  address: number;
  /** Registers (input, holding) or bits (coil, discrete). */
  count: number;
  channels: { name: string; channel: ChannelConfig; /** Position in the reply. */ index: number }[];
}

/** Limits of one read (the Modbus spec's: 125 registers, 2000 bits) and the gaps worth reading through. */
export interface PlanLimits {
  maxRegisters: number;
  maxBits: number;
  maxGap: { registers: number; bits: number };
}

/** The spec's limits, reading through no gaps. */
export const specLimits: PlanLimits = { maxRegisters: 125, maxBits: 2000, maxGap: { registers: 0, bits: 0 } };

const tableOrder: readonly TableName[] = ['coil', 'discrete', 'input', 'holding'];

/**
 * Plans a poll cycle: as few reads as the map allows. Per table, channels sorted by address
 * are merged into one read while the next one starts at most `maxGap` unused addresses after
 * the current read's end and the read stays within the size limit. Channels may overlap (two
 * bits of one register share it). Pure: the same map always gives the same plan.
 */
export function planReads(channels: Readonly<Record<string, ChannelConfig>>, limits: PlanLimits = specLimits): ReadRequest[] {
  const requests: ReadRequest[] = [];
  for (const table of tableOrder) {
    const bits = table === 'coil' || table === 'discrete';
    const max = bits ? limits.maxBits : limits.maxRegisters;
    const gap = bits ? limits.maxGap.bits : limits.maxGap.registers;
    const entries = Object.entries(channels)
      .filter(([, channel]) => channel.table === table)
      .sort(([an, a], [bn, b]) => a.address - b.address || (an < bn ? -1 : 1));
    let current: ReadRequest | undefined;
    for (const [name, channel] of entries) {
      const end = channel.address + widthOf(channel);
      const currentEnd = current === undefined ? 0 : current.address + current.count;
      if (current === undefined || channel.address - currentEnd > gap || Math.max(end, currentEnd) - current.address > max) {
        current = { table, address: channel.address, count: 0, channels: [] };
        requests.push(current);
      }
      current.count = Math.max(current.address + current.count, end) - current.address;
      current.channels.push({ name, channel, index: channel.address - current.address });
    }
  }
  return requests;
}
