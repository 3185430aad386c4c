/**
 * What both sides of a point agree on: the addresses, the device and sensor naming, and the
 * few wire encodings the raw loop must speak exactly as the gateway does, so the same host
 * clients measure both.
 */

/** Every address of one point; the gateway config and the raw loop bind the same ones. */
export interface Endpoints {
  http: number;
  jeedomSocket: number;
  jeedomCallback: number;
  apikey: string;
  /** Tracim master socket (the gateway, or the raw loop, listens). */
  tracimMaster: string;
  /** Tracim client socket (the bench listens). */
  tracimClient: string;
  reqRep: number;
  pub: number;
  sub: number;
  domogikHost: string;
  comodojo: number;
}

/** Shape of one point. */
export interface PointShape {
  devices: number;
  clients: number;
  /** Total values per second, over every device. */
  rate: number;
}

export const deviceId = (i: number): string => `d${i}`;
/** Each sim tick reports these two; the relay only on change. */
export const reportedChannels = ['temperature', 'humidity'] as const;
const sensorChannels = ['temperature', 'humidity', 'relay'] as const;

/** Domogik sensor id of a device's channel: 3i+1, 3i+2, 3i+3. */
export function sensorId(device: number, channel: string): number {
  return device * 3 + sensorChannels.indexOf(channel as (typeof sensorChannels)[number]) + 1;
}

/** The device and channel a sensor id stands for. */
export function sensorKey(id: number): [string, string] {
  return [deviceId(Math.floor((id - 1) / 3)), sensorChannels[(id - 1) % 3] as string];
}

export const DOMOGIK_COMMAND_ID = 10;
export const DOMOGIK_DEVICE_ID = 7;
export const domogikService = (host: string): string => `plugin-patchbay.${host}`;

/** Comodojo request frame: base64 of the PHP-serialized {content_type, message}, CR LF (protocols/comodojo.md §1.6). */
export function comodojoRequest(json: string): string {
  const serialized = `a:2:{s:12:"content_type";s:16:"application/json";s:7:"message";s:${Buffer.byteLength(json)}:"${json}";}`;
  return Buffer.from(serialized).toString('base64') + '\r\n';
}

/** Comodojo response frame carrying a JSON-RPC document (§1.7). */
export function comodojoResponse(json: string): string {
  const serialized = `a:2:{s:6:"status";b:1;s:7:"message";s:${Buffer.byteLength(json)}:"${json}";}`;
  return Buffer.from(serialized).toString('base64') + '\r\n';
}

export const COMODOJO_GREETER = 'YToyOntzOjY6InN0YXR1cyI7czo5OiJjb25uZWN0ZWQiO3M6NzoidmVyc2lvbiI7czozOiIxLjAiO30=\r\n';

/** Splits a byte stream on LF; a trailing CR is stripped. */
export function lines(onLine: (line: string) => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let at = rest.indexOf('\n');
    while (at >= 0) {
      const line = rest.slice(0, at).trim();
      rest = rest.slice(at + 1);
      if (line) onLine(line);
      at = rest.indexOf('\n');
    }
  };
}

/** A Tracim DaemonEvent envelope (protocols/tracim.md). */
export function tracimEnvelope(path: string, type: string, data: unknown): string {
  return JSON.stringify({ path, type, data });
}
