import { join } from 'node:path';
import type { EmbeddedDefaults } from '@patchbay/core';

/**
 * The embedded default's options for the built-in adapters whose definition does not carry
 * its own `embedded` field yet (core's `EmbeddedDefaults`). Each entry moves into its
 * adapter's definition as that package takes it; a definition's own field always wins.
 * All on localhost, none needing the host platform to be present.
 */
export const embeddedFallback: Readonly<Record<string, EmbeddedDefaults>> = {
  jeedom: {
    // No callback unless one is given: the command socket serves, nothing is posted up.
    options: (ctx) => ({
      socketPort: ctx.port('PATCHBAY_JEEDOM_PORT', 55009),
      socketHost: '127.0.0.1',
      apikey: ctx.secret('jeedom.apikey', 'PATCHBAY_JEEDOM_APIKEY'),
      // Compose passes an empty value when no callback is wanted.
      ...(ctx.env.PATCHBAY_JEEDOM_CALLBACK ? { callback: ctx.env.PATCHBAY_JEEDOM_CALLBACK } : {}),
    }),
    portVariables: ['PATCHBAY_JEEDOM_PORT'],
  },
  domogik: {
    // Its own embedded bus, and sensor ids of its own: no Domogik needs to be present.
    options: (ctx) => ({
      bus: 'embedded',
      reqRepPort: ctx.port('PATCHBAY_DOMOGIK_REQ_REP_PORT', 40410),
      pubPort: ctx.port('PATCHBAY_DOMOGIK_PUB_PORT', 40411),
      subPort: ctx.port('PATCHBAY_DOMOGIK_SUB_PORT', 40412),
      configService: 'none',
      sensors: { 'thermo1.temperature': 1, 'thermo1.humidity': 2, 'thermo1.relay': 3, 'thermo-serial.temperature': 11, 'thermo-serial.humidity': 12, 'thermo-serial.relay': 13 },
      commands: { 'thermo1.relay': 4, 'thermo-serial.relay': 14 },
    }),
    portVariables: ['PATCHBAY_DOMOGIK_REQ_REP_PORT', 'PATCHBAY_DOMOGIK_PUB_PORT', 'PATCHBAY_DOMOGIK_SUB_PORT'],
  },
  comodojo: {
    options: (ctx) => ({ socket: `tcp://127.0.0.1:${ctx.port('PATCHBAY_COMODOJO_PORT', 10042)}` }),
    portVariables: ['PATCHBAY_COMODOJO_PORT'],
  },
  // Not the reference ~/.config/TracimDaemon path: that would clash with a TracimDaemon running beside us.
  tracim: { options: (ctx) => ({ mode: 'master', socketPath: join(ctx.dataDir, 'tracim', 'master.sock') }) },
  // The WebSocket API and status page serve on the gateway's own HTTP port.
  ws: { options: () => ({}) },
  // A broker of its own on 127.0.0.1 (MQTT 3.1.1): `mosquitto_sub -t 'patchbay/#' -v` shows the sim.
  // PATCHBAY_MQTT_URL names a broker to use instead: docker-compose.yml points it at its mosquitto.
  mqtt: {
    options: (ctx) => (ctx.env.PATCHBAY_MQTT_URL ? { url: ctx.env.PATCHBAY_MQTT_URL } : { embedded: { host: '127.0.0.1', port: ctx.port('PATCHBAY_MQTT_PORT', 1883) } }),
    portVariables: ['PATCHBAY_MQTT_PORT'],
  },
};
