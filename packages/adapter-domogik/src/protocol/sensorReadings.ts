import { quoteForLog, type Counter, type HostContext, type JsonValue, type OutboundEvent } from '@patchbay/core';
import { dataTypeFor, encodeSensorValue } from './dataTypes.js';
import type { SensorMap, SensorRef } from './mapping.js';
import type { JsonObject } from './wire.js';

/** A reading of a channel, as a state or momentary event and the retained state both carry it. */
export interface Reading {
  device: string;
  channel: string;
  value?: JsonValue | undefined;
  time: number;
}

/** What the readings reach of the plugin. */
export interface SensorReadingsDeps {
  /** The current mapping: each load replaces it. */
  mapping(): SensorMap;
  ctx: Pick<HostContext, 'description' | 'logger'>;
  /** Counts each reading not published (unmapped, or not storable as its sensor's type). */
  unmapped: Counter;
}

/**
 * Readings as Domogik's `client.sensor` messages (§7.5, §11.30): `{"<sensor id>": value,
 * "atTimestamp": s}`, the value converted for its sensor's data type (the one Domogik declares
 * for it, else the one of the channel's description). A reading that is unmapped or not
 * storable as that type is counted, logged once per channel, and not published.
 */
export class SensorReadings {
  /** Channels already logged as not published, until the mapping is loaded again. */
  private readonly logged = new Set<string>();

  constructor(private readonly deps: SensorReadingsDeps) {}

  /** A mapping was loaded: a channel still not published is logged again, once. */
  mappingLoaded(): void {
    this.logged.clear();
  }

  /** One reading's message; undefined when it is not published. */
  message(reading: Reading): JsonObject | undefined {
    const sensor = this.deps.mapping().sensor(reading.device, reading.channel);
    const encoded = this.value(sensor, reading);
    return sensor === undefined || encoded === undefined ? undefined : { [sensor.id]: encoded, atTimestamp: Math.floor(reading.time / 1000) };
  }

  /**
   * A batch's messages: several sensors in each, one message per timestamp and a sensor at most
   * once in it (a second press of a button is a reading of its own). Each reading goes straight
   * into its message, keyed by the sensor's id as a number: a message object, its key list and a
   * copy per reading were a third of what the gateway allocated at 10,000 values/s (issue 20).
   */
  messages(events: readonly OutboundEvent[]): JsonObject[] {
    const mapping = this.deps.mapping();
    const messages: JsonObject[] = [];
    let message: JsonObject | undefined;
    for (const event of events) {
      if (event.kind !== 'state' && event.kind !== 'momentary') continue;
      const sensor = mapping.sensor(event.device, event.channel);
      const encoded = this.value(sensor, event);
      if (sensor === undefined || encoded === undefined) continue;
      const { id } = sensor;
      const atTimestamp = Math.floor(event.time / 1000);
      if (message === undefined || id in message || message.atTimestamp !== atTimestamp) {
        // Integer keys come first in a JSON object whatever their order of insertion: the sensors, then atTimestamp.
        message = { atTimestamp };
        messages.push(message);
      }
      message[id] = encoded;
    }
    return messages;
  }

  private value(sensor: SensorRef | undefined, { device, channel, value }: Reading): JsonValue | undefined {
    const { ctx } = this.deps;
    const dataType = sensor === undefined ? undefined : (sensor.dataType ?? dataTypeFor(ctx.description(device)?.channels[channel]));
    const encoded = sensor === undefined ? undefined : encodeSensorValue(dataType, value);
    if (sensor !== undefined && encoded !== undefined) return encoded;
    this.deps.unmapped.inc();
    const key = `${device}.${channel}`;
    if (!this.logged.has(key)) {
      this.logged.add(key);
      const why = sensor === undefined ? 'no Domogik sensor id' : `no value storable as ${dataType ?? 'a Domogik sensor value'} (got ${quoteForLog(value ?? null, 40)})`;
      ctx.logger.info(`domogik: ${key} has ${why}; not published (logged once)`);
    }
    return undefined;
  }
}
