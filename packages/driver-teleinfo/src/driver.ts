import { describeError, ErrorCodes, quoteForLog, type Counter, type DeviceDescription, type Driver, type DriverContext, type JsonValue, type ReplyInit } from '@patchbay/core';
import { Link, serialTransport, type Transport } from '@patchbay/driver-serial';
import { TeleinfoDecoder, type BadInputKind, type Group } from './codec.js';
import type { TeleinfoConfig } from './config.js';
import { describeLabel } from './labels.js';

/** Names and help of the driver's counters, for `/metrics` and the README. */
export const counterNames: Record<BadInputKind | 'bad' | 'frames' | 'otherMeter', { name: string; help: string }> = {
  bad: { name: 'patchbay_teleinfo_bad_input_total', help: 'Frames or groups from the meter that were dropped, whatever the reason' },
  checksum: { name: 'patchbay_teleinfo_checksum_errors_total', help: 'Groups whose checksum did not match' },
  cut: { name: 'patchbay_teleinfo_cut_frames_total', help: 'Frames cut short (EOT, a new STX, the line closing)' },
  garbage: { name: 'patchbay_teleinfo_garbage_total', help: 'Bytes or groups that are not Teleinfo (wrong baud rate or parity, noise)' },
  oversize: { name: 'patchbay_teleinfo_oversize_frames_total', help: 'Frames longer than 4 kB without their end' },
  otherMeter: { name: 'patchbay_teleinfo_other_meter_frames_total', help: 'Frames from a meter with another address than the configured one' },
  frames: { name: 'patchbay_teleinfo_frames_total', help: 'Frames used' },
};

/** `E231202101500` (season, YYMMDDhhmmss) as an ISO local time with the season's offset. */
export function isoFromTeleinfoDate(date: string): string {
  const d = date.slice(1);
  const summer = date[0] === 'E' || date[0] === 'e';
  return `20${d.slice(0, 2)}-${d.slice(2, 4)}-${d.slice(4, 6)}T${d.slice(6, 8)}:${d.slice(8, 10)}:${d.slice(10, 12)}${summer ? '+02:00' : '+01:00'}`;
}

/**
 * The `teleinfo` driver: reads a French electricity meter's customer output (historic or
 * standard mode) on a serial line. Each label becomes a described, read-only channel; the
 * meter's address (ADCO or ADSC) names the device; only changed values are reported.
 */
export function createTeleinfoDriver(config: TeleinfoConfig, ctx: DriverContext, transport?: Transport): Driver {
  const mode = config.mode;
  const addressLabel = mode === 'historic' ? 'ADCO' : 'ADSC';
  const counters = Object.fromEntries(Object.entries(counterNames).map(([key, { name, help }]) => [key, ctx.counter(name, help)])) as Record<keyof typeof counterNames, Counter>;
  const lastLogged = new Map<string, number>();
  const last = new Map<string, JsonValue>();
  const described = new Set<string>();
  let address: string | undefined;
  let down = false;
  let silence: NodeJS.Timeout | undefined;
  let online = false;

  // The meter talks every second or two: silence past `silenceMs` means it (or its modem) is gone.
  const heard = (): void => {
    if (!online) {
      online = true;
      ctx.availability('online');
    }
    if (silence) clearTimeout(silence);
    silence = setTimeout(() => {
      silence = undefined;
      online = false;
      ctx.availability('offline', `no valid Teleinfo frame for ${config.silenceMs} ms`);
    }, config.silenceMs);
  };

  const bad = (kind: BadInputKind | 'otherMeter', detail: string): void => {
    counters.bad.inc();
    counters[kind].inc();
    // Once per kind per 10 s: a line at the wrong speed produces garbage continuously.
    const now = Date.now();
    if (now - (lastLogged.get(kind) ?? -Infinity) < 10_000) return;
    lastLogged.set(kind, now);
    ctx.logger.warn({ kind, path: config.path }, `teleinfo ${config.path}: ${kind}: ${detail}; dropped`);
  };

  const describeNow = (): void => {
    const description: DeviceDescription = {
      name: config.name ?? `Electricity meter ${address ?? config.path}`,
      manufacturer: 'Enedis',
      model: mode === 'historic' ? 'Teleinfo, historic mode' : 'Linky, standard mode',
      channels: Object.fromEntries([...described].sort().map((label) => [label, describeLabel(mode, label)])),
    };
    ctx.describe(description);
  };

  const value = (group: Group): JsonValue => {
    const description = describeLabel(mode, group.label);
    if (group.label === 'DATE' && group.date !== undefined) return isoFromTeleinfoDate(group.date);
    if (description.kind === 'number') {
      const digits = group.value.trim();
      if (/^\d+$/.test(digits)) return Number(digits);
    }
    return group.value.trim();
  };

  const frame = (groups: Group[]): void => {
    const meter = groups.find((g) => g.label === addressLabel)?.value;
    if (config.address !== undefined && meter !== undefined && meter !== config.address) {
      bad('otherMeter', `frame from meter ${quoteForLog(meter)}, not ${config.address}`);
      return;
    }
    counters.frames.inc();
    heard();
    if (meter !== undefined && meter !== address) {
      address = meter;
      described.add(addressLabel);
      describeNow();
    }
    const fresh = groups.filter((g) => !described.has(g.label));
    if (fresh.length > 0) {
      for (const group of fresh) described.add(group.label);
      describeNow();
    }
    for (const group of groups) {
      const v = value(group);
      if (describeLabel(mode, group.label).kind === 'number' && typeof v !== 'number') {
        bad('garbage', `${group.label} ${quoteForLog(group.value)} is not a number`);
        continue;
      }
      if (last.get(group.label) === v) continue;
      last.set(group.label, v);
      ctx.emit(group.label, v);
    }
  };

  let decoder: TeleinfoDecoder | undefined;
  const link = new Link({
    transport:
      transport ??
      serialTransport({ path: config.path, baudRate: config.baudRate ?? (mode === 'historic' ? 1200 : 9600), dataBits: config.dataBits, parity: config.parity, stopBits: 1, rtscts: false }),
    backoff: config.reconnect,
    maxQueuedWrites: 1,
    label: config.path,
    logger: ctx.logger,
    handlers: {
      up: () => {
        decoder = new TeleinfoDecoder({ mode, checksum: config.checksum ?? (mode === 'historic' ? 1 : 2), frame, bad });
        down = false;
        ctx.status('alive');
      },
      data: (chunk) => {
        // Runs inside serialport's 'data' event: a bug in decoding costs this chunk, not the gateway.
        try {
          decoder?.push(chunk);
        } catch (error) {
          ctx.logger.error({ err: error, path: config.path }, `teleinfo ${config.path}: failed to decode ${chunk.length} bytes: ${describeError(error)}`);
        }
      },
      down: (reason) => {
        decoder?.end();
        decoder = undefined;
        if (!down) {
          down = true;
          ctx.status('unknown', `${reason}; reconnecting`);
        }
      },
    },
  });

  return {
    start: () => link.start(),
    async stop() {
      if (silence) clearTimeout(silence);
      silence = undefined;
      online = false;
      await link.stop();
      decoder?.end();
      decoder = undefined;
    },
    send(command): ReplyInit {
      return {
        ok: false,
        code: command.channel !== undefined ? ErrorCodes.READ_ONLY : ErrorCodes.COMMAND_INVALID,
        error: `command ${command.id}: a Teleinfo meter only talks; ${command.channel !== undefined ? `${quoteForLog(command.channel)} is read-only` : 'it has no actions'}`,
      };
    },
  };
}
