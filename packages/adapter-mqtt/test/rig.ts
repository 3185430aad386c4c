/** An in-process gateway with the mqtt adapter and the fake driver, against a broker URL. */
import { createGateway, type Gateway } from '@patchbay/core';
import { captureLogger, FakeDriver, type CapturedLogger } from '@patchbay/testing';
import mqttAdapter from '../src/index.js';

export interface Rig {
  gateway: Gateway;
  driver: FakeDriver;
  log: CapturedLogger;
  base: string;
  stop(): Promise<void>;
}

let round = 0;

/** A gateway bridging the fake driver's device `dev1` into an mqtt host with a fresh base topic. */
export async function startRig(options: Record<string, unknown>, more: { devices?: string[] } = {}): Promise<Rig> {
  round++;
  const base = (options.baseTopic as string | undefined) ?? `t${process.pid}x${round}`;
  const driver = new FakeDriver();
  const log = captureLogger();
  const gateway = createGateway({
    name: 'gw',
    devices: (more.devices ?? ['dev1']).map((id) => ({ id, definition: driver.definition })),
    hosts: [{ id: 'mqtt', definition: mqttAdapter, options: { baseTopic: base, clientId: `rig-${process.pid}-${round}`, reconnectMs: 200, ...options } }],
    logger: log.logger,
    commandTimeoutMs: 3000,
  });
  await gateway.start();
  await driver.waitRunning();
  return { gateway, driver, log, base, stop: () => gateway.stop({ drainTimeoutMs: 500 }) };
}
