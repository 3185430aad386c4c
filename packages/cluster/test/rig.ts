/** In-process gateways of one cluster, each with the cluster link, against a real mosquitto. */
import { createGateway, type DriverDefinition, type EndpointSpec, type Gateway, type OutboundEvent } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { captureLogger, FakeHost, Mosquitto, type CapturedLogger, type FakeDriver } from '@patchbay/testing';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createClusterHost, type ClusterHost } from '../src/index.js';

export interface Member {
  name: string;
  gateway: Gateway;
  /** A host of this gateway that sees every device, local and remote. */
  host: FakeHost;
  cluster: ClusterHost;
  log: CapturedLogger;
  /** Reload the gateway with its cluster options changed (the link restarts). */
  reloadCluster(options: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

let round = 0;

/** A cluster name of its own for each test (the broker may be shared by a file's tests). */
export function clusterName(): string {
  round++;
  return `c${process.pid}x${round}`;
}

export interface MemberOptions {
  url: string;
  cluster: string;
  name: string;
  /** Device ids on the sim driver (default none). */
  sim?: string[];
  /** A fake driver's devices. */
  fake?: { driver: FakeDriver; ids: string[] };
  keepaliveSeconds?: number;
  commandTimeoutMs?: number;
  simInterval?: number;
}

/** Starts one gateway of the cluster and waits for its link to be up. */
export async function startMember(options: MemberOptions): Promise<Member> {
  const host = new FakeHost();
  const log = captureLogger();
  const holder: { gateway?: Gateway } = {};
  const commandTimeoutMs = options.commandTimeoutMs ?? 3000;
  const cluster = createClusterHost({ registry: () => holder.gateway as Gateway, commandTimeoutMs });
  const devices: EndpointSpec<DriverDefinition>[] = [
    ...(options.sim ?? []).map((id) => ({ id, definition: simDriver as DriverDefinition, options: { interval: options.simInterval ?? 100 } })),
    ...(options.fake?.ids ?? []).map((id) => ({ id, definition: (options.fake as { driver: FakeDriver }).driver.definition })),
  ];
  const link = { url: options.url, name: options.cluster, gateway: options.name, keepaliveSeconds: options.keepaliveSeconds ?? 10, reconnectMs: 200 };
  const hosts = (more: Record<string, unknown> = {}) => [
    { id: 'host', definition: host.definition },
    { id: 'cluster', definition: cluster.definition, options: { ...link, ...more } },
  ];
  const gateway = createGateway({
    name: options.name,
    devices,
    hosts: hosts(),
    logger: log.logger,
    commandTimeoutMs,
  });
  holder.gateway = gateway;
  await gateway.start();
  return {
    name: options.name,
    gateway,
    host,
    cluster,
    log,
    reloadCluster: async (more) => void (await gateway.reload({ devices, hosts: hosts(more) })),
    stop: () => gateway.stop({ drainTimeoutMs: 500 }),
  };
}

/** Events for one device, of one kind, that a host was delivered. */
export function eventsOf<K extends OutboundEvent['kind']>(host: FakeHost, kind: K, device: string): Extract<OutboundEvent, { kind: K }>[] {
  return host.delivered.filter((e): e is Extract<OutboundEvent, { kind: K }> => e.kind === kind && 'device' in e && e.device === device);
}

/**
 * One mosquitto for a test file (started before its tests, closed after), and a list of
 * cleanups run after each test, last first.
 */
export function useBroker(): { broker: () => Mosquitto; cleanups: (() => Promise<unknown> | void)[] } {
  let broker: Mosquitto | undefined;
  const cleanups: (() => Promise<unknown> | void)[] = [];
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.close();
  });
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });
  return { broker: () => broker as Mosquitto, cleanups };
}
