import { EventEmitter } from 'node:events';
import { Backoff, describeError, ErrorCodes, PatchbayError, type Logger } from '@patchbay/core';
import { serialTransport, type Connection, type Transport } from '@patchbay/driver-serial';
import modbusSerial from 'modbus-serial';
import type { ConnectionConfig } from './config.js';
import { MbapCodec, RtuReceiver, type BadInputKind } from './frames.js';
import { tcpTransport } from './tcpTransport.js';

// modbus-serial is CommonJS with ESM-style typings: under NodeNext its default import is the
// whole module, whose `default` (set by modbus-serial to itself) is the client class.
const ModbusRTU = modbusSerial.default;

/** The modbus-serial client, as the bus drives it. */
export type ModbusClient = InstanceType<typeof ModbusRTU>;

/** What a bus tells each device on it. */
export interface BusListener {
  /** The connection is open (again). */
  up(): void;
  /** The connection is down; called on every failed attempt. */
  down(reason: string): void;
  /** Bytes from the line that were not used. */
  bad(kind: BadInputKind, detail: string): void;
}

/** One request queued on a bus. */
export interface BusJob<T> {
  unitId: number;
  /** Who asked: gets the bad input seen while this request is in flight. */
  listener: BusListener;
  run(client: ModbusClient): Promise<T>;
}

/** Requests waiting for the line beyond which new ones fail at once (a device far slower than its poll). */
const MAX_QUEUED = 1000;

/** A readable name of a connection, for logs and errors. */
export function connectionLabel(connection: ConnectionConfig): string {
  return connection.type === 'rtu' ? connection.path : `${connection.type === 'tcp' ? 'modbus-tcp' : 'rtu-over-tcp'}://${connection.host}:${connection.port}`;
}

/**
 * The port object modbus-serial writes to and listens on (its custom-port contract: `open`,
 * `close`, `write`, `isOpen`, `data` events carrying whole RTU frames). The bus feeds it bytes
 * from whatever connection is current, so one client outlives reconnections.
 */
class FramedPort extends EventEmitter {
  isOpen = false;
  writeBytes: (bytes: Buffer) => void = () => undefined;
  readonly rtu: RtuReceiver;
  readonly mbap: MbapCodec | undefined;

  constructor(tcp: boolean, bad: (kind: BadInputKind, detail: string) => void) {
    super();
    this.rtu = new RtuReceiver({ frame: (frame) => this.emit('data', frame), bad });
    this.mbap = tcp ? new MbapCodec(this.rtu, bad) : undefined;
  }

  open(callback: (error: Error | null) => void): void {
    callback(null);
  }

  close(callback?: () => void): void {
    callback?.();
  }

  write(request: Buffer): void {
    if (this.mbap !== undefined) this.writeBytes(this.mbap.wrap(request));
    else {
      this.rtu.expect(request);
      this.writeBytes(request);
    }
  }

  push(chunk: Buffer): void {
    if (this.mbap !== undefined) this.mbap.push(chunk);
    else this.rtu.push(chunk);
  }

  forget(): void {
    if (this.mbap !== undefined) this.mbap.forget();
    else this.rtu.forget();
  }
}

/**
 * One Modbus connection (a serial bus or a TCP peer) shared by every device on it: it keeps
 * the connection open, reopening it with back-off, and runs requests one at a time in the
 * order they were queued, so two devices' requests are never interleaved on the wire.
 */
export class Bus {
  readonly label: string;
  private readonly client: ModbusClient;
  private readonly port: FramedPort;
  private readonly transport: Transport;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<BusListener>();
  private connection: Connection | undefined;
  private lost: ((error: Error) => void) | undefined;
  private current: BusJob<unknown> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private opening: Promise<void> | undefined;
  private reason = 'not started';
  private timeoutsInARow = 0;

  constructor(
    readonly settings: ConnectionConfig,
    private readonly options: { logger: Logger; offlineAfterTimeouts: number },
  ) {
    this.label = connectionLabel(settings);
    this.backoff = new Backoff(settings.reconnect);
    this.transport =
      settings.type === 'rtu'
        ? serialTransport({ path: settings.path, baudRate: settings.baudRate, parity: settings.parity, dataBits: settings.dataBits, stopBits: settings.stopBits, rtscts: false })
        : tcpTransport(settings);
    this.port = new FramedPort(settings.type === 'tcp', (kind, detail) => this.badInput(kind, detail));
    this.client = new ModbusRTU(this.port as unknown as ConstructorParameters<typeof ModbusRTU>[0]);
    this.client.setTimeout(settings.timeoutMs);
    // modbus-serial relays port errors as 'error' events; without a listener they would throw.
    this.client.on('error', () => undefined);
  }

  /** True while the connection is open. */
  get isUp(): boolean {
    return this.connection !== undefined;
  }

  /** Why the connection is not open. */
  get downReason(): string {
    return this.reason;
  }

  attach(listener: BusListener): void {
    this.listeners.add(listener);
  }

  /** Removes a device; true when it was the last one. */
  detach(listener: BusListener): boolean {
    this.listeners.delete(listener);
    return this.listeners.size === 0;
  }

  /** Opens the connection; resolves after the first attempt, whether or not it worked. */
  async start(): Promise<void> {
    if (this.running) return this.opening;
    this.running = true;
    await new Promise<void>((resolve, reject) => this.client.open((error: Error | null) => (error ? reject(error) : resolve())));
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.opening;
    await this.drop('stopped');
  }

  /**
   * Queues a request; it runs once every request queued before it has finished. Fails at once
   * with DEVICE_UNAVAILABLE while the connection is down.
   */
  run<T>(job: BusJob<T>): Promise<T> {
    if (this.queued >= MAX_QUEUED) {
      return Promise.reject(new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `${this.label}: ${this.queued} requests already wait for the bus`, { context: { bus: this.label } }));
    }
    this.queued++;
    const result = this.tail.then(() => this.execute(job));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async execute<T>(job: BusJob<T>): Promise<T> {
    this.queued--;
    if (this.connection === undefined) {
      throw new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `${this.label} is down (${this.reason})`, { context: { bus: this.label } });
    }
    this.current = job as BusJob<unknown>;
    this.client.setID(job.unitId);
    const lost = new Promise<never>((_resolve, reject) => (this.lost = reject));
    lost.catch(() => undefined);
    try {
      const value = await Promise.race([job.run(this.client), lost]);
      this.timeoutsInARow = 0;
      return value;
    } catch (error) {
      if (isTimeout(error)) this.timedOut();
      // Whatever the line still brings for this request is late.
      this.port.forget();
      throw error;
    } finally {
      this.current = undefined;
      this.lost = undefined;
    }
  }

  /**
   * A TCP peer that stopped answering may be gone without a FIN (a pulled cable, a crashed
   * converter): after as many timeouts in a row as make a device offline, start over with a
   * fresh connection. A serial line has nothing to reopen: the slave is just silent.
   */
  private timedOut(): void {
    this.timeoutsInARow++;
    if (this.settings.type !== 'rtu' && this.timeoutsInARow >= this.options.offlineAfterTimeouts && this.connection !== undefined) {
      this.timeoutsInARow = 0;
      void this.drop(`no answer from ${this.label} to ${this.options.offlineAfterTimeouts} requests in a row`).then(() => this.schedule());
    }
  }

  private badInput(kind: BadInputKind, detail: string): void {
    const listener = this.current?.listener ?? this.listeners.values().next().value;
    listener?.bad(kind, detail);
  }

  private attempt(): Promise<void> {
    const attempt = this.connect();
    this.opening = attempt;
    void attempt.finally(() => {
      if (this.opening === attempt) this.opening = undefined;
    });
    return attempt;
  }

  private async connect(): Promise<void> {
    let connection: Connection | undefined;
    let endedEarly: string | undefined;
    try {
      connection = await this.transport({
        data: (chunk) => {
          if (this.connection === connection) this.port.push(chunk);
        },
        drain: () => undefined,
        closed: (reason) => {
          if (this.connection === connection && connection !== undefined) void this.drop(`${this.label} ${reason}`).then(() => this.schedule());
          else endedEarly = reason;
        },
      });
    } catch (error) {
      if (!this.running) return;
      this.down(describeError(error));
      this.schedule();
      return;
    }
    if (!this.running) {
      await connection.close();
      return;
    }
    if (endedEarly !== undefined) {
      this.down(`${this.label} lost right after opening: ${endedEarly}`);
      this.schedule();
      return;
    }
    this.connection = connection;
    this.port.writeBytes = (bytes) => connection.write(bytes);
    this.port.isOpen = true;
    this.backoff.reset();
    this.timeoutsInARow = 0;
    for (const listener of this.listeners) listener.up();
  }

  /** Closes the current connection (if any), failing the request in flight. */
  private async drop(reason: string): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.port.isOpen = false;
    this.port.writeBytes = () => undefined;
    this.port.forget();
    this.lost?.(new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, reason, { context: { bus: this.label } }));
    if (connection !== undefined) {
      if (this.running) this.down(reason);
      await connection.close();
    }
  }

  private down(reason: string): void {
    this.reason = reason;
    for (const listener of this.listeners) listener.down(reason);
  }

  private schedule(): void {
    if (!this.running || this.timer || this.connection !== undefined) return;
    const delay = this.backoff.next();
    if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug({ delay, bus: this.label }, `modbus ${this.label}: reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) void this.attempt();
    }, delay);
  }
}

/** True for modbus-serial's "Timed out" error. */
export function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { errno?: unknown }).errno === 'ETIMEDOUT';
}

// Drivers are created one at a time by the core, each knowing only its own options; yet the
// devices of one RS-485 bus (one path) or behind one TCP gateway (one host:port) must share a
// single connection, with one request in flight. Nothing in the driver context spans
// devices, so the process keeps one bus per connection, shared by reference count.
const buses = new Map<string, { bus: Bus; users: number }>();

function busKey(connection: ConnectionConfig): string {
  return connection.type === 'rtu' ? `rtu:${connection.path}` : `${connection.type}:${connection.host}:${connection.port}`;
}

/**
 * The bus for `connection`, created on first use. A second device on the same path or
 * host:port must use the same settings (baud rate, parity...): anything else is refused,
 * since one line cannot run at two speeds.
 */
export function acquireBus(connection: ConnectionConfig, options: { logger: Logger; offlineAfterTimeouts: number }): Bus {
  const key = busKey(connection);
  const entry = buses.get(key);
  if (entry !== undefined) {
    if (JSON.stringify(entry.bus.settings) !== JSON.stringify(connection)) {
      throw new PatchbayError(
        ErrorCodes.CONFIG_INVALID,
        `${entry.bus.label} is already in use with other settings (${JSON.stringify(entry.bus.settings)}); every device on one bus must use the same connection settings`,
        { context: { bus: entry.bus.label } },
      );
    }
    entry.users++;
    return entry.bus;
  }
  const bus = new Bus(connection, options);
  buses.set(key, { bus, users: 1 });
  return bus;
}

/** Gives a bus back; the last user stops it. */
export async function releaseBus(bus: Bus): Promise<void> {
  const key = busKey(bus.settings);
  const entry = buses.get(key);
  if (entry === undefined || entry.bus !== bus) return;
  entry.users--;
  if (entry.users > 0) return;
  buses.delete(key);
  await bus.stop();
}
