import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, defineDriver, type ClusterHealth, type Gateway } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { FakeHost, repoRoot, spawnEmbeddedDefault } from '@patchbay/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import wsAdapter from '../src/index.js';
import { startTestHttp, type TestHttp } from './httpMount.js';

// Debian's chromium, never a downloaded browser (issue 8).
// rebound.test resolves to the gateway, as a DNS-rebinding attacker's name would after the switch.
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP rebound.test 127.0.0.1'];

describe('status page - in headless Chromium', () => {
  let http: TestHttp;
  let gateway: Gateway;
  let browser: Browser;

  beforeAll(async () => {
    http = await startTestHttp();
    gateway = createGateway({
      name: 'patchbay-demo',
      devices: [
        { id: 'thermo1', definition: simDriver, options: { interval: 150 } },
        { id: 'thermo2', definition: simDriver, options: { interval: 400, initial: { temperature: 18, humidity: 60 } } },
      ],
      hosts: [
        { id: 'ws', definition: wsAdapter, options: { token: 'page-token', healthIntervalMs: 250 } },
        { id: 'other', definition: new FakeHost().definition },
      ],
      http: http.mount,
    });
    await gateway.start();
    // A device another gateway of a cluster owns, as the cluster link shows it to the core.
    const remote = defineDriver({
      type: 'cluster-remote',
      config: z.object({}),
      create: (_config, ctx) => ({
        start: () => {
          ctx.describe({ name: 'Garage meter', channels: { power: { kind: 'number', unit: 'W' } } });
          ctx.emit('power', 420);
        },
        stop: () => undefined,
        send: () => ({ ok: true }),
      }),
    });
    await gateway.addRemoteDevice({ id: 'meter9', origin: 'garage', via: 'other', definition: remote });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop({ drainTimeoutMs: 200 });
    await http?.close();
  });

  it('status page - shows live values, hosts, and a command round trip (token from ?token=)', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${http.url}/?token=page-token`);
    await page.locator('#connection[data-state="open"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#gateway-name').textContent()).resolves.toBe('patchbay-demo');

    // A value changes live: read the temperature, then wait for a different one.
    const temperature = page.locator('[data-device="thermo1"] tr[data-channel="temperature"] td.value');
    await temperature.waitFor({ timeout: 10_000 });
    const first = await temperature.textContent();
    // Locators, not page functions: the page's CSP (rightly) forbids the eval those need.
    await temperature.filter({ hasNotText: new RegExp(`^${escapeRegExp(first ?? '')}$`) }).waitFor({ timeout: 10_000 });
    await expect(page.locator('[data-device="thermo1"] h3 .badge').textContent()).resolves.toBe('online');
    await expect(page.locator('[data-device="thermo1"] .meta').textContent()).resolves.toMatch(/^Last seen \d+ s ago$/);
    // Described: the name, units, and controls only for what can be written.
    await expect(page.locator('[data-device="thermo1"] h3 .name').textContent()).resolves.toBe('Simulated thermostat');
    await expect(temperature.textContent()).resolves.toMatch(/^-?\d+(\.\d+)? °C$/);
    await expect(page.locator('[data-device="thermo1"] tr[data-channel="humidity"] td.value').textContent()).resolves.toMatch(/ %$/);
    await expect(page.locator('[data-device="thermo1"] tr[data-channel="temperature"] [data-control]').count()).resolves.toBe(0);
    await expect(page.locator('[data-device="thermo1"] tr[data-channel="humidity"] [data-control]').count()).resolves.toBe(0);
    const toggle = page.locator('[data-device="thermo1"] tr[data-channel="relay"] button.toggle[role="switch"]');
    await expect(toggle.getAttribute('aria-checked')).resolves.toBe('false');
    await toggle.click();
    // The reply comes back and so does the relay's new state, which is what the toggle shows.
    await page.locator('[data-device="thermo1"] tr[data-channel="relay"] td.value', { hasText: /^on$/ }).waitFor({ timeout: 10_000 });
    await page.locator('[data-device="thermo1"] tr[data-channel="relay"] button.toggle[aria-checked="true"]:not([disabled])').waitFor({ timeout: 10_000 });
    await toggle.click();
    await page.locator('[data-device="thermo1"] tr[data-channel="relay"] td.value', { hasText: /^off$/ }).waitFor({ timeout: 10_000 });
    // An action button: a press is a momentary event, shown on its channel.
    await page.click('[data-device="thermo1"] button[data-action="press"]');
    await page.locator('[data-device="thermo1"] tr[data-channel="button"] td.value', { hasText: '"single" (event)' }).waitFor({ timeout: 10_000 });
    // A device that goes quiet is shown stale, then online again.
    await page.click('[data-device="thermo2"] button[data-action="mute"]');
    await page.locator('[data-device="thermo2"][data-availability="stale"] h3 .badge', { hasText: 'stale' }).waitFor({ timeout: 15_000 });
    await page.click('[data-device="thermo2"] button[data-action="unmute"]');
    await page.locator('[data-device="thermo2"][data-availability="online"]').waitFor({ timeout: 15_000 });

    // Hosts with status and outbox figures, refreshed by the health message.
    await page.locator('tr[data-host="other"] td:nth-of-type(4)', { hasText: /^[1-9]\d*$/ }).waitFor({ timeout: 10_000 });
    await expect(page.locator('tr[data-host="ws"] td:nth-of-type(2)').textContent()).resolves.toMatch(/^alive/);

    // A command round trip through the form.
    await page.selectOption('#command-device', 'thermo1');
    await page.fill('#command-channel', 'relay');
    await page.fill('#command-value', 'true');
    await page.click('#command-send');
    await page.locator('#command-reply[data-ok="true"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#command-reply').textContent()).resolves.toMatch(/^Reply #\d+: ok, value true$/);
    await page.locator('[data-device="thermo1"] tr[data-channel="relay"] td.value', { hasText: /^on$/ }).waitFor({ timeout: 10_000 });

    // A refused command shows the device's reason.
    await page.fill('#command-channel', 'temperature');
    await page.fill('#command-value', '5');
    await page.click('#command-send');
    await page.locator('#command-reply[data-ok="false"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#command-reply').textContent()).resolves.toMatch(/PB211|read-only/);
    await expect(page.locator('#event-log li').count()).resolves.toBeGreaterThan(3);

    expect(problems).toEqual([]);
    await page.close();
  });

  it('status page - (14.12) the README screenshot is the embedded default, as `npm start` runs it', async () => {
    const proc = await spawnEmbeddedDefault();
    try {
      await proc.waitStarted();
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${proc.url as string}/`);
      await page.locator('#connection[data-state="open"]').waitFor({ timeout: 15_000 });
      await expect(page.locator('#gateway-name').textContent()).resolves.toBe('patchbay');
      await page.locator('[data-device="thermo1"][data-availability="online"] tr[data-channel="temperature"] td.value', { hasText: /°C$/ }).waitFor({ timeout: 15_000 });
      // Every built-in host listed and alive, each delivered to, before the picture is taken.
      for (const host of ['comodojo', 'domogik', 'jeedom', 'mqtt', 'tracim', 'ws']) {
        await page.locator(`tr[data-host="${host}"] td:nth-of-type(2)`, { hasText: /^alive/ }).waitFor({ timeout: 20_000 });
        await page.locator(`tr[data-host="${host}"] td:nth-of-type(4)`, { hasText: /^[1-9]\d*$/ }).waitFor({ timeout: 20_000 });
      }
      // What each host is connected to (14.2): this page is the ws host's one client.
      await page.locator('tr[data-host="ws"] td.peers', { hasText: /^1$/ }).waitFor({ timeout: 20_000 });
      await expect(page.locator('tr[data-host="tracim"] td.peers').textContent()).resolves.toBe('0');
      await expect(page.locator('[data-device]').count()).resolves.toBe(1);
      // A few live events in the log, as a visitor sees after a moment.
      await page.locator('#event-log li:nth-child(4)').waitFor({ timeout: 20_000 });
      const artifacts = join(repoRoot, 'test/artifacts');
      mkdirSync(artifacts, { recursive: true });
      const shot = join(artifacts, 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      // The README's copy is refreshed on request only, so a test run leaves the tree clean.
      const readmeCopy = join(repoRoot, 'docs/status-page.png');
      if (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(readmeCopy)) {
        mkdirSync(join(repoRoot, 'docs'), { recursive: true });
        copyFileSync(shot, readmeCopy);
      }
      await page.close();
      expect(await proc.stop()).toBe(0);
    } finally {
      await proc.stop();
    }
  }, 90_000);

  it('status page - a device of another gateway of the cluster says which gateway owns it (19.7)', async () => {
    const page = await browser.newPage();
    await page.goto(`${http.url}/?token=page-token`);
    const meta = page.locator('[data-device="meter9"] .meta');
    await meta.filter({ hasText: 'on gateway garage' }).waitFor({ timeout: 10_000 });
    await expect(meta.textContent()).resolves.toMatch(/^Last seen \d+ s ago — on gateway garage$/);
    await expect(page.locator('[data-device="thermo1"] .meta').textContent()).resolves.not.toMatch(/gateway/);
    await page.close();
  });

  it('status page - (19.7) one panel per gateway of the cluster: its state, its devices, the duplicates refused from it; a gateway going offline shows', async () => {
    const own = await startTestHttp();
    // The section a cluster link would report, controlled here: the gateway reads it at each health tick.
    let section: ClusterHealth | undefined;
    const clustered = createGateway({
      name: 'basement',
      devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 150 } }],
      hosts: [{ id: 'ws', definition: wsAdapter, options: { healthIntervalMs: 100 } }],
      http: own.mount,
      clusterHealth: () => section,
    });
    await clustered.start();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    try {
      await page.goto(`${own.url}/`);
      await page.locator('#connection[data-state="open"]').waitFor({ timeout: 10_000 });
      // Before the link starts the section is null: the page says so.
      await page.locator('#cluster-summary', { hasText: 'The cluster link has not started yet.' }).waitFor({ timeout: 10_000 });
      section = {
        cluster: 'home',
        gateway: 'basement',
        broker: 'mqtt://127.0.0.1:1883',
        connected: true,
        gateways: [
          { id: 'basement', status: 'online', self: true, devices: ['thermo1'] },
          { id: 'garage', status: 'online', devices: ['meter1', 'meter2'] },
        ],
        refused: [{ device: 'thermo1', gateway: 'garage', heldBy: 'basement', reason: 'gateway basement announced it first' }],
      };
      const garage = page.locator('[data-gateway="garage"]');
      await garage.filter({ has: page.locator('.badge', { hasText: /^online$/ }) }).waitFor({ timeout: 10_000 });
      await expect(page.locator('#cluster-summary').textContent()).resolves.toBe('Cluster home, over the broker mqtt://127.0.0.1:1883');
      await expect(page.locator('.gateway h3 .name').allTextContents()).resolves.toEqual(['basement', 'garage']);
      const basement = page.locator('[data-gateway="basement"]');
      await expect(basement.locator('h3 .self').textContent()).resolves.toBe('this gateway');
      await expect(basement.locator('.broker[data-broker="up"]').textContent()).resolves.toBe('broker up');
      await expect(basement.locator('ul.devices li').allTextContents()).resolves.toEqual(['thermo1']);
      await expect(garage.locator('h3 .self').count()).resolves.toBe(0);
      await expect(garage.locator('.broker').count()).resolves.toBe(0);
      await expect(garage.locator('ul.devices li').allTextContents()).resolves.toEqual(['meter1', 'meter2']);
      await expect(garage.locator('ul.refused li[data-refused="thermo1"]').textContent()).resolves.toBe('thermo1 (held by basement)');
      await expect(basement.locator('ul.refused').count()).resolves.toBe(0);

      // The garage dies (its last will): the next health message carries the section, the panel follows.
      section = { ...section, gateways: [section.gateways[0] as ClusterHealth['gateways'][number], { id: 'garage', status: 'offline', devices: [] }], refused: [] };
      await page.locator('[data-gateway="garage"][data-status="offline"] .badge.gateway-offline', { hasText: /^offline$/ }).waitFor({ timeout: 10_000 });
      await expect(garage.locator('.empty').textContent()).resolves.toBe('No devices.');
      await expect(garage.locator('ul.refused').count()).resolves.toBe(0);
      await expect(basement.getAttribute('data-status')).resolves.toBe('online');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await clustered.stop({ drainTimeoutMs: 200 });
      await own.close();
    }
  });

  it('status page - a gateway in no cluster shows no cluster section', async () => {
    const page = await browser.newPage();
    await page.goto(`${http.url}/?token=page-token`);
    await page.locator('[data-device="thermo1"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#cluster-section').isHidden()).resolves.toBe(true);
    await expect(page.locator('.gateway').count()).resolves.toBe(0);
    await page.close();
  });

  it('status page - without the token the socket is refused and the page says so', async () => {
    const page = await browser.newPage();
    await page.goto(`${http.url}/`);
    await page.locator('#connection[data-state="closed"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#connection').textContent()).resolves.toMatch(/Disconnected/);
    await page.close();
  });

  it('status page - with no token configured, opens from 127.0.0.1 and localhost, and is refused under a rebound name', async () => {
    const open = await startTestHttp();
    const tokenless = createGateway({
      devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 150 } }],
      hosts: [{ id: 'ws', definition: wsAdapter, options: { healthIntervalMs: 250 } }],
      http: open.mount,
    });
    await tokenless.start();
    try {
      for (const base of [open.url, `http://localhost:${open.port}`]) {
        const page = await browser.newPage();
        await page.goto(`${base}/`);
        await page.locator('#connection[data-state="open"]').waitFor({ timeout: 10_000 });
        await page.close();
      }
      // The page itself loads (it is static), but its socket is refused: Host and Origin are a name.
      const page = await browser.newPage();
      await page.goto(`http://rebound.test:${open.port}/`);
      await page.locator('#connection[data-state="closed"]').waitFor({ timeout: 10_000 });
      await page.close();
    } finally {
      await tokenless.stop({ drainTimeoutMs: 200 });
      await open.close();
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
