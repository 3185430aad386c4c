import { createGateway, type CommandEvent, type DriverDefinition, type Gateway } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import domogikAdapter from '../src/index.js';
import { EmbeddedBus, type BusPorts } from '../src/transport/bus/index.js';
import { captureLogger, recordingDriver } from '@patchbay/testing';
import { PythonPeer } from './pythonPeer.js';

/** The Domogik device admin's `device.get` returns for the simulated device (§7.4). */
export const thermoDevice = {
  id: 8,
  name: 'Thermo',
  reference: '',
  description: '',
  device_type_id: 'patchbay.thermo',
  client_id: 'plugin-patchbay.testhost',
  client_version: '0.1.0',
  info_changed: null,
  parameters: { device: { id: 5, key: 'device', type: 'string', value: 'thermo1' } },
  sensors: {
    temperature: { id: 57, name: 'Temperature', reference: 'temperature', data_type: 'DT_Temp', last_value: '20' },
    humidity: { id: 58, name: 'Humidity', reference: 'humidity', data_type: 'DT_Humidity', last_value: '40' },
    relay: { id: 59, name: 'Relay', reference: 'relay', data_type: 'DT_Switch', last_value: '0' },
  },
  commands: { relay: { id: 80, name: 'Switch', return_confirmation: true, parameters: [{ key: 'value', data_type: 'DT_Switch', conversion: '' }] } },
  xpl_stats: {},
  xpl_commands: {},
};

/** The gateway's service name in these tests. */
export const service = 'plugin-patchbay.testhost';

export interface Rig {
  bus: EmbeddedBus;
  ports: BusPorts;
  peer: PythonPeer;
  gateway: Gateway;
  log: ReturnType<typeof captureLogger>;
  /** Requests the Python admin received for `action`. */
  adminRequests(action: string): Record<string, unknown>[];
  hostStatus(): string | undefined;
}

/** Waits until the broker knows `name` (mmi.service answers 200). */
export async function awaitService(peer: PythonPeer, name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await peer.raw(['MDPC01', 'mmi.service', name], 2);
    if (Array.isArray(reply.frames) && reply.frames[2] === '200') return;
    if (Date.now() > deadline) throw new Error(`service ${name} never registered`);
  }
}

/**
 * A bus (our embedded one, run separately so the gateway uses it as an external Domogik bus),
 * the Python peer as xplgw + admin + subscriber, and a gateway with the simulated device.
 */
export async function startRig(
  cleanups: (() => unknown)[],
  options: { device?: DriverDefinition; adapter?: Record<string, unknown>; admin?: { service?: string; config?: Record<string, unknown>; devices?: unknown[] } | false } = {},
): Promise<Rig> {
  const log = captureLogger();
  const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, logger: log.logger });
  const ports = await bus.start();
  cleanups.push(() => bus.stop());
  const peer = new PythonPeer(ports);
  cleanups.push(() => peer.close());
  await peer.subscribe(['plugin.status', 'client.sensor']);
  const admin = options.admin === undefined ? {} : options.admin;
  if (admin) {
    peer.worker({ service: admin.service ?? 'admin', config: admin.config ?? { configured: true }, devices: admin.devices ?? [thermoDevice] });
    await awaitService(peer, admin.service ?? 'admin');
  }
  const gateway = createGateway({
    devices: [{ id: 'thermo1', definition: options.device ?? simDriver, options: { interval: 3_600_000 } }],
    hosts: [
      {
        id: 'domogik',
        definition: domogikAdapter,
        options: { bus: 'external', ...ports, host: 'testhost', configTimeoutMs: 2000, deviceTimeoutMs: 2000, ...options.adapter },
      },
    ],
    logger: log.logger,
    metrics: { counter: (name) => log.counter(name) },
  });
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
  await gateway.start();
  return {
    bus,
    ports,
    peer,
    gateway,
    log,
    adminRequests: (action) => peer.events.filter((e) => e.event === 'request' && e.action === action).map((e) => e.data ?? {}),
    hostStatus: () => gateway.health().hosts[0]?.status,
  };
}

/** The real simulated device, with the commands its driver is asked recorded. */
export function recordingSim(): { definition: DriverDefinition; sent: CommandEvent[] } {
  return recordingDriver(simDriver);
}
