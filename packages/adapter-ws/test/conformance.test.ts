import type { AdapterDefinition, HostContext } from '@patchbay/core';
import { describeHostAdapterConformance, type HostPeer } from '@patchbay/testing';
import { afterAll, beforeAll } from 'vitest';
import wsAdapter, { type WsConfig } from '../src/index.js';
import { startTestHttp, type TestHttp } from './httpMount.js';
import { TestClient } from './rig.js';

// The suite builds its own gateways without an HTTP server, so the definition is wrapped to
// hand each instance this file's test server as `ctx.http` (the app does that in production).
let http: TestHttp | undefined;
beforeAll(async () => {
  http = await startTestHttp();
});
afterAll(async () => {
  await http?.close();
});

const definition: AdapterDefinition = {
  ...wsAdapter,
  create: (config, ctx: HostContext) => wsAdapter.create(config as WsConfig, { ...ctx, http: (http as TestHttp).mount }),
};

let nextId = 0;

// No goDown/comeBack: a WebSocket client is never pushed to while it is away. The adapter
// delivers to whoever is connected and returns at once; a client that reconnects gets a fresh
// snapshot (the latest value of every channel), which is what "nothing lost" means for state.
// The suite's own snapshot-on-connect test shows that.
describeHostAdapterConformance('ws', {
  definition,
  options: () => ({ healthIntervalMs: 0 }),
  async connect(): Promise<HostPeer> {
    const client = await TestClient.open(`ws://127.0.0.1:${(http as TestHttp).port}/ws`);
    const latest = (device: string, channel: string, accept: (v: unknown) => boolean): { value: unknown } | undefined => {
      for (let i = client.messages.length - 1; i >= 0; i--) {
        const m = client.messages[i] as Record<string, unknown>;
        if (m.type === 'state' && m.device === device && m.channel === channel && accept(m.value)) return { value: m.value };
        if (m.type === 'snapshot') {
          const d = (m.devices as { device: string; channels: { channel: string; value: unknown }[] }[]).find((x) => x.device === device);
          const c = d?.channels.find((x) => x.channel === channel);
          if (c && accept(c.value)) return { value: c.value };
        }
      }
      return undefined;
    };
    return {
      async waitForState({ device, channel, accept = () => true, timeoutMs }) {
        await client.waitFor(() => latest(device, channel, accept) !== undefined, `${device}.${channel}`, timeoutMs);
        return (latest(device, channel, accept) as { value: unknown }).value;
      },
      async command(command) {
        const id = `conf-${++nextId}`;
        client.send({ type: 'command', id, ...command });
        const reply = await client.waitFor((m) => m.type === 'reply' && m.id === id, `the reply to ${id}`);
        return { ok: reply.ok === true, value: reply.value, error: reply.error };
      },
      async close() {
        client.close();
      },
    };
  },
});
