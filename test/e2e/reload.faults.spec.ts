/**
 * Issue 12, acceptance 3: live reload on a running gateway with five hosts. One host's options
 * change and a device is added; `patchbay reload` (POST /reload) restarts only that host, the
 * ws and Tracim clients stay connected, no event is duplicated; an invalid config changes
 * nothing and is reported with every problem.
 */
import { spawnPatchbay, type PatchbayProcess } from '@patchbay/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Scenario, until } from './scenario.js';

interface Health {
  status: string;
  devices: { id: string; status: string }[];
  hosts: { id: string; status: string; delivered: number }[];
}

async function reload(scenario: Scenario): Promise<{ code: number | string; out: string; err: string }> {
  const proc: PatchbayProcess = spawnPatchbay(['reload', '--config', scenario.configFile]);
  const code = await proc.exited;
  return { code, out: proc.lines.map((l) => String(l.msg)).join('\n'), err: proc.stderr() };
}

describe('live reload with five hosts (12.6, acceptance 3)', () => {
  const scenario = new Scenario({ logLevel: 'info' });
  afterAll(() => scenario.stop());

  it('reload - one host changed and a device added: only that host restarts, ws and Tracim clients stay connected, nothing duplicated; an invalid config is refused whole', async () => {
    await scenario.start();
    await until(() => scenario.ws.stats.delivered > 0 && scenario.tracim.stats.delivered > 0, 'ws and Tracim receiving');
    const gateway = scenario.gateway as PatchbayProcess;
    const started = gateway.lines.length;

    scenario.rewriteConfig((config) => {
      const hosts = config.hosts as { id: string; options: Record<string, unknown> }[];
      const comodojo = hosts.find((h) => h.id === 'comodojo') as { options: Record<string, unknown> };
      comodojo.options.maxConnections = 32;
      (config.devices as unknown[]).push({ id: 'thermo2', driver: 'sim', options: { interval: 200 } });
    });
    const first = await reload(scenario);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/restarted: comodojo; added: thermo2; removed: none/);

    // The ws socket never closed, and Tracim's client keeps receiving without registering again:
    // a restarted master would have forgotten it.
    expect(scenario.ws.open).toBe(true);
    const tracimBefore = scenario.tracim.stats.delivered;
    const wsBefore = scenario.ws.stats.delivered;
    await until(() => scenario.tracim.stats.delivered > tracimBefore + 5 && scenario.ws.stats.delivered > wsBefore + 5, 'ws and Tracim still receiving after the reload');
    const stopped = gateway.lines.slice(started).filter((l) => typeof l.msg === 'string' && /^host \S+ \(\S+\) is stopped/.test(l.msg)).map((l) => l.msg);
    expect(stopped).toEqual(['host comodojo (comodojo) is stopped']);
    const health = (await (await fetch(`http://127.0.0.1:${scenario.httpPort}/healthz`)).json()) as Health;
    expect(health.devices.find((d) => d.id === 'thermo2')).toMatchObject({ status: 'alive' });
    expect(health.hosts.map((h) => [h.id, h.status])).toEqual(['jeedom', 'tracim', 'domogik', 'comodojo', 'ws'].map((id) => [id, 'alive']));

    // An invalid config: every problem listed, nothing changes.
    scenario.rewriteConfig((config) => {
      const hosts = config.hosts as { id: string; options: Record<string, unknown> }[];
      (hosts.find((h) => h.id === 'ws') as { options: Record<string, unknown> }).options.maxClients = 'many';
      (config.devices as unknown[]).push({ id: 'ghost', driver: 'no-such-driver' });
    });
    const linesBefore = gateway.lines.length;
    const refused = await reload(scenario);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/reload refused, nothing changed/);
    expect(refused.err).toMatch(/no-such-driver/);
    expect(refused.err).toMatch(/maxClients/);
    expect(gateway.lines.slice(linesBefore).filter((l) => typeof l.msg === 'string' && / is stopped/.test(l.msg))).toEqual([]);
    expect(scenario.ws.open).toBe(true);
    expect(scenario.ws.stats.duplicates).toBe(0);
    expect(scenario.tracim.stats.duplicates).toBe(0);
  });
});
