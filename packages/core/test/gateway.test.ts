import { type CommandEvent, createGateway, defineAdapter, defineDriver, type DriverContext, ErrorCodes, type HostContext, type LogFn, type Logger, type OutboundEvent, PatchbayError, silentLogger } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

function testDriver() {
  const state: { ctx?: DriverContext; commands: CommandEvent[]; starts: number } = { commands: [], starts: 0 };
  const definition = defineDriver({
    type: 'test-driver',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => {
        state.starts++;
        state.ctx = ctx;
      },
      stop: () => undefined,
      send: (command) => {
        state.commands.push(command);
        return { ok: true, value: command.value ?? null };
      },
    }),
  });
  return { definition, state };
}

function testHost() {
  const state: { ctx?: HostContext; delivered: OutboundEvent[]; down: boolean; waiters: (() => void)[] } = { delivered: [], down: false, waiters: [] };
  const definition = defineAdapter({
    type: 'test-host',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => {
        state.ctx = ctx;
      },
      stop: () => undefined,
      deliver: (event) => {
        if (state.down) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'down');
        state.delivered.push(event);
        for (const w of state.waiters.splice(0)) w();
      },
    }),
  });
  const until = (predicate: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (predicate() ? resolve() : state.waiters.push(check));
      check();
    });
  return { definition, state, until };
}

describe('router', () => {
  it('router - routes device state to every host when no routes are configured', async () => {
    const d = testDriver();
    const a = testHost();
    const b = testHost();
    const gateway = createGateway({
      devices: [{ id: 'dev', definition: d.definition }],
      hosts: [
        { id: 'a', definition: a.definition },
        { id: 'b', definition: b.definition },
      ],
    });
    await gateway.start();
    d.state.ctx?.emit('temperature', 21);
    const states = (h: ReturnType<typeof testHost>) => h.state.delivered.filter((e) => e.kind === 'state');
    expect(states(a)).toMatchObject([{ device: 'dev', channel: 'temperature', value: 21, origin: 'dev' }]);
    expect(states(b)).toHaveLength(1);
    await gateway.stop();
  });

  it('router - honours the routes table', async () => {
    const d1 = testDriver();
    const d2 = testDriver();
    const a = testHost();
    const b = testHost();
    const gateway = createGateway({
      devices: [
        { id: 'd1', definition: d1.definition },
        { id: 'd2', definition: d2.definition },
      ],
      hosts: [
        { id: 'a', definition: a.definition },
        { id: 'b', definition: b.definition },
      ],
      routes: [{ devices: ['d1'], hosts: ['a'] }, { devices: ['d2'], hosts: ['a', 'b'] }],
    });
    await gateway.start();
    d1.state.ctx?.emit('x', 1);
    d2.state.ctx?.emit('y', 2);
    const states = (h: ReturnType<typeof testHost>) => h.state.delivered.filter((e) => e.kind === 'state').map((e) => (e.kind === 'state' ? e.device : ''));
    expect(states(a)).toEqual(['d1', 'd2']);
    expect(states(b)).toEqual(['d2']);
    const refused = await b.state.ctx?.submit({ device: 'd1', channel: 'x', value: 1 });
    expect(refused).toMatchObject({ ok: false, code: ErrorCodes.NOT_ROUTED });
    await gateway.stop();
  });

  it('router - a reply goes only to the asking host, with deliverReply through its outbox', async () => {
    const d = testDriver();
    const a = testHost();
    const b = testHost();
    const gateway = createGateway({
      devices: [{ id: 'dev', definition: d.definition }],
      hosts: [
        { id: 'a', definition: a.definition },
        { id: 'b', definition: b.definition },
      ],
    });
    await gateway.start();
    const reply = await a.state.ctx?.submit({ device: 'dev', channel: 'relay', value: true, ref: 'c1', meta: { client: 7 } }, { deliverReply: true });
    expect(reply).toMatchObject({ kind: 'reply', ok: true, value: true, to: 'a', ref: 'c1', meta: { client: 7 }, device: 'dev' });
    expect(d.state.commands[0]).toMatchObject({ origin: 'a', channel: 'relay', value: true });
    expect(a.state.delivered.filter((e) => e.kind === 'reply')).toHaveLength(1);
    expect(b.state.delivered.filter((e) => e.kind === 'reply')).toHaveLength(0);
    await gateway.stop();
  });

  it('router - unknown devices and invalid commands get a failed reply, never silence', async () => {
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }] });
    await gateway.start();
    await expect(a.state.ctx?.submit({ device: 'nope', channel: 'relay', value: true })).resolves.toMatchObject({ ok: false, code: ErrorCodes.UNKNOWN_DEVICE });
    await expect(a.state.ctx?.submit({ device: 'dev' } as never)).resolves.toMatchObject({ ok: false, code: ErrorCodes.COMMAND_INVALID });
    await gateway.stop();
  });

  it('router - a device that never answers produces a failed reply after the timeout', async () => {
    const a = testHost();
    const silent = defineDriver({ type: 'silent', config: z.object({}), create: () => ({ start() {}, stop() {}, send: () => new Promise(() => undefined) }) });
    const gateway = createGateway({ devices: [{ id: 'dev', definition: silent }], hosts: [{ id: 'a', definition: a.definition }], commandTimeoutMs: 50 });
    await gateway.start();
    await expect(a.state.ctx?.submit({ device: 'dev', channel: 'relay', value: true })).resolves.toMatchObject({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT });
    await gateway.stop({ drainTimeoutMs: 10 });
  });

  it('outbox - coalesces state per channel while a host is down and delivers the latest on return', async () => {
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({
      devices: [{ id: 'dev', definition: d.definition }],
      hosts: [{ id: 'a', definition: a.definition }],
      outbox: { backoff: { delays: [5], jitter: 0 } },
    });
    await gateway.start();
    a.state.down = true;
    for (let i = 0; i < 1000; i++) d.state.ctx?.emit('temperature', i);
    d.state.ctx?.emit('humidity', 50);
    const reply = a.state.ctx?.submit({ device: 'dev', channel: 'relay', value: true }, { deliverReply: true });
    await reply;
    // Everything waits in one coalesced slot per channel plus the reply.
    expect(gateway.health().hosts[0]?.queued).toBeLessThanOrEqual(4);
    a.state.down = false;
    await a.until(() => a.state.delivered.some((e) => e.kind === 'reply'));
    const states = a.state.delivered.filter((e) => e.kind === 'state');
    expect(states.map((e) => (e.kind === 'state' ? [e.channel, e.value] : []))).toEqual([
      ['temperature', 999],
      ['humidity', 50],
    ]);
    expect(gateway.health().hosts[0]?.retries).toBeGreaterThan(0);
    await gateway.stop();
  });

  it('commands - a host whose replies fill its outbox gets OUTBOX_FULL, and the refusals are not queued too', async () => {
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }], outbox: { maxPendingReplies: 5, backoff: { delays: [60_000], jitter: 0 } } });
    await gateway.start();
    a.state.down = true;
    // Concurrent commands: all ask before any reply exists, so the room must be reserved up front.
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => a.state.ctx?.submit({ device: 'dev', channel: 'relay', value: i % 2 === 0 }, { deliverReply: true })));
    expect(replies.filter((r) => r?.code === ErrorCodes.OUTBOX_FULL)).toHaveLength(45);
    expect(d.state.commands).toHaveLength(5);
    expect(gateway.health().hosts[0]?.queued).toBeLessThanOrEqual(5 + 1);
    await gateway.stop({ drainTimeoutMs: 10 });
  });

  it('commands - submit never rejects: a command nested too deep to validate gets one failed reply', async () => {
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }] });
    await gateway.start();
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const reply = await a.state.ctx?.submit({ device: 'dev', channel: 'relay', value: deep as never }, { deliverReply: true });
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_INVALID, error: expect.stringContaining('nested deeper than 64') });
    await a.until(() => a.state.delivered.some((e) => e.kind === 'reply'));
    expect(d.state.commands).toEqual([]);
    await gateway.stop();
  });

  it('router - state from a driver generation that was torn down is not routed', async () => {
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }], restart: { backoff: { delays: [1], jitter: 0 } } });
    await gateway.start();
    const first = d.state.ctx as DriverContext;
    first.fail(new Error('cable pulled'));
    // The restart is announced to the host ('starting', then 'alive'): await it.
    await a.until(() => d.state.starts >= 2);
    first.emit('temperature', -1);
    d.state.ctx?.emit('temperature', 21);
    await a.until(() => a.state.delivered.some((e) => e.kind === 'state'));
    expect(a.state.delivered.filter((e) => e.kind === 'state').map((e) => (e.kind === 'state' ? e.value : undefined))).toEqual([21]);
    await gateway.stop();
  });

  it('router - a state or a reply nested too deep to serialise is refused with a warning; the gateway carries on', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const state: { ctx?: DriverContext } = {};
    const driver = defineDriver({
      type: 'deep-driver',
      config: z.object({}),
      create: (_c, ctx) => ({
        start: () => {
          state.ctx = ctx;
        },
        stop: () => undefined,
        send: (command) => (command.channel === 'deep' ? { ok: true, value: deep as never } : { ok: true, value: 1 }),
      }),
    });
    const a = testHost();
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(String(args.find((x) => typeof x === 'string'))), child: () => logger };
    // The journal is where the first JSON.stringify happens: this one does only that.
    const journal = {
      open: async () => ({ lastSeq: 0, cursors: new Map(), states: [], openCommands: [], replay: () => undefined, corrupt: [] }),
      append: (_seq: number, event: unknown) => void JSON.stringify(event),
      appendFor: (_host: string, _seq: number, event: unknown) => void JSON.stringify(event),
      command: (c: unknown, written?: (ok: boolean) => void) => {
        JSON.stringify(c);
        written?.(true);
      },
      ack: () => undefined,
      release: () => undefined,
      flush: () => undefined,
      close: async () => undefined,
      health: () => ({ status: 'ok' as const, bytes: 0, segments: 0, writeErrors: 0, notJournaled: 0, corruptRecords: 0 }),
    };
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver }], hosts: [{ id: 'a', definition: a.definition }], logger, journal });
    await gateway.start();
    state.ctx?.emit('t', deep as never);
    expect(warnings.some((w) => /emitted t nested deeper than 64 levels; ignored/.test(w))).toBe(true);
    const reply = await a.state.ctx?.submit({ device: 'dev', channel: 'deep', value: 1 }, { deliverReply: true });
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_FAILED, error: expect.stringContaining('nested deeper than 64 levels') });
    state.ctx?.emit('t', 21);
    await a.until(() => a.state.delivered.some((e) => e.kind === 'state' && e.value === 21));
    await gateway.stop();
  });
});

describe('hosts that start in steps', () => {
  /** Records every line as `level: message`. */
  function recordingLogger(lines: { level: string; message: string; object?: object }[], onLine: () => void): Logger {
    const at =
      (level: string): LogFn =>
      (first: object | string, second?: unknown) => {
        if (typeof first === 'string') lines.push({ level, message: first });
        else lines.push({ level, message: String(second ?? ''), object: first });
        onLine();
      };
    const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => logger, isLevelEnabled: () => true };
    return logger;
  }

  it('supervisor - a host that says "starting" in start() stays starting until it says alive, and is delivered nothing until then: no refused delivery, no warning (14.10)', async () => {
    const lines: { level: string; message: string; object?: object }[] = [];
    const d = testDriver();
    const host: { ctx?: HostContext; ready: boolean; early: number; delivered: OutboundEvent[]; waiters: (() => void)[] } = { ready: false, early: 0, delivered: [], waiters: [] };
    const definition = defineAdapter({
      type: 'stepwise',
      config: z.object({}),
      create: (_c, ctx) => ({
        start: () => {
          host.ctx = ctx;
          ctx.status('starting', 'joining the bus');
        },
        stop: () => undefined,
        deliver: (event) => {
          if (!host.ready) {
            host.early++;
            throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'waiting for the bus');
          }
          host.delivered.push(event);
          for (const w of host.waiters.splice(0)) w();
        },
      }),
    });
    let lineWaiters: (() => void)[] = [];
    const logger = recordingLogger(lines, () => {
      const waiting = lineWaiters;
      lineWaiters = [];
      for (const w of waiting) w();
    });
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'h', definition }], logger, outbox: { backoff: { delays: [5], jitter: 0 } } });
    await gateway.start();
    d.state.ctx?.emit('t', 1);
    // The state waits in the outbox: queued, and not handed to a host that is not ready.
    await new Promise<void>((resolve) => {
      const check = () => ((gateway.health().hosts[0]?.queued ?? 0) > 0 ? resolve() : lineWaiters.push(check));
      check();
      setImmediate(check);
    });
    expect(gateway.health().hosts[0]?.status).toBe('starting');
    expect(lines.filter((l) => /is alive/.test(l.message) && /host h/.test(l.message))).toEqual([]);
    host.ready = true;
    host.ctx?.status('alive');
    await new Promise<void>((resolve) => {
      const check = () => (host.delivered.some((e) => e.kind === 'state') ? resolve() : host.waiters.push(check));
      check();
    });
    expect(gateway.health().hosts[0]?.status).toBe('alive');
    expect(host.early).toBe(0);
    expect(lines.filter((l) => /not ready yet|unreachable/.test(l.message))).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    await gateway.stop({ drainTimeoutMs: 50 });
  });
});

describe('host connection (14.2)', () => {
  it('health - keeps what a host is connected to apart from whether it runs, and logs a change of connected once', async () => {
    const d = testDriver();
    const a = testHost();
    const lines: string[] = [];
    const log: LogFn = (first: object | string, ...rest: unknown[]) => void lines.push(String(typeof first === 'string' ? first : rest[0]));
    const logger: Logger = { ...silentLogger, info: log, child: () => logger };
    const gateway = createGateway({ logger, devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }] });
    await gateway.start();
    const host = () => gateway.health().hosts[0];
    expect(host()).toMatchObject({ status: 'alive' });
    expect(host()?.connected).toBeUndefined();
    a.state.ctx?.connection({ connected: false, peers: 0, detail: 'no clients' });
    expect(host()).toMatchObject({ status: 'alive', connected: false, peers: 0, connection: 'no clients' });
    a.state.ctx?.connection({ connected: true, peers: 2, detail: '2 clients' });
    a.state.ctx?.connection({ connected: true, peers: 3, detail: '3 clients' });
    expect(host()).toMatchObject({ connected: true, peers: 3, connection: '3 clients' });
    expect(lines.filter((l) => /^host a (connected|not connected)/.test(l))).toEqual(['host a not connected: no clients', 'host a connected: 2 clients']);
    await gateway.stop();
  });
});

describe('metrics (14.1)', () => {
  it('metrics - counters exist at zero with the host or device that owns them (host/adapter, device/driver); histograms per host observe deliveries and command round trips', async () => {
    const counters = new Map<string, number>();
    const observed = new Map<string, number[]>();
    const key = (name: string, labels: Readonly<Record<string, string>>) => `${name}${JSON.stringify(labels)}`;
    const metrics = {
      counter: (name: string, _help: string, labels: Readonly<Record<string, string>>) => {
        const k = key(name, labels);
        counters.set(k, counters.get(k) ?? 0);
        return { inc: (n = 1) => void counters.set(k, (counters.get(k) ?? 0) + n) };
      },
      histogram: ({ name, labels }: { name: string; labels: Readonly<Record<string, string>> }) => {
        const values: number[] = [];
        observed.set(key(name, labels), values);
        return { observe: (v: number) => void values.push(v) };
      },
    };
    const d = testDriver();
    const a = testHost();
    const gateway = createGateway({ metrics, devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }] });
    // Before anything ran: every core counter of each endpoint, at zero.
    expect(counters.get(key('patchbay_host_stalls_total', { host: 'a', adapter: 'test-host' }))).toBe(0);
    expect(counters.get(key('patchbay_commands_refused_total', { host: 'a', adapter: 'test-host', reason: ErrorCodes.READ_ONLY }))).toBe(0);
    expect([...counters.keys()].filter((k) => k.includes('"endpoint"'))).toEqual([]);
    await gateway.start();
    d.state.ctx?.emit('t', 1);
    await a.until(() => a.state.delivered.some((e) => e.kind === 'state'));
    expect(observed.get(key('patchbay_host_delivery_seconds', { host: 'a', adapter: 'test-host' }))?.length).toBeGreaterThan(0);
    await gateway.submit('a', { device: 'dev', channel: 'relay', value: true });
    await gateway.submit('a', { device: 'nope', channel: 'relay', value: true });
    expect(observed.get(key('patchbay_command_duration_seconds', { host: 'a', adapter: 'test-host' }))).toHaveLength(2);
    expect(counters.get(key('patchbay_commands_refused_total', { host: 'a', adapter: 'test-host', reason: ErrorCodes.UNKNOWN_DEVICE }))).toBe(1);
    // A plugin's counter gets the same labels as the core's.
    a.state.ctx?.counter('patchbay_test_things_total', 'things').inc();
    expect(counters.get(key('patchbay_test_things_total', { host: 'a', adapter: 'test-host' }))).toBe(1);
    await gateway.stop({ drainTimeoutMs: 100 });
  });
});

describe('a host asks the gateway to stop (12.4)', () => {
  it('core - requestStop goes to whoever runs the gateway, once per request, naming the host and why; with no one to take it, it is logged and ignored', async () => {
    const d = testDriver();
    const a = testHost();
    const requests: { host: string; reason: string }[] = [];
    const gateway = createGateway({ devices: [{ id: 'dev', definition: d.definition }], hosts: [{ id: 'a', definition: a.definition }], onStopRequested: (r) => void requests.push(r) });
    await gateway.start();
    a.state.ctx?.requestStop('the platform said stop');
    expect(requests).toEqual([{ host: 'a', reason: 'the platform said stop' }]);
    await gateway.stop();

    const lines: string[] = [];
    const warn: LogFn = (first: object | string, ...rest: unknown[]) => void lines.push(String(typeof first === 'string' ? first : rest[0]));
    const logger: Logger = { ...silentLogger, warn, child: () => logger };
    const b = testHost();
    const alone = createGateway({ logger, devices: [{ id: 'dev', definition: testDriver().definition }], hosts: [{ id: 'b', definition: b.definition }] });
    await alone.start();
    b.state.ctx?.requestStop('stop please');
    expect(lines).toEqual(['host b asked the gateway to stop (stop please), but nothing that runs it takes such requests: it keeps running']);
    expect(alone.health().hosts[0]?.status).toBe('alive');
    await alone.stop();
  });
});
