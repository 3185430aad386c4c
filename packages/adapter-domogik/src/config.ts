import { z } from 'zod';
import { defaultListenerLimits } from './transport/bus/bind.js';

const port = z.number().int().min(0).max(65535);
/** `"<device>.<channel>"`: the device id may contain dots, the channel is after the last one. */
const channelKey = z.string().regex(/^.+\.[^.]+$/, 'expected "<device>.<channel>"');
const dbId = z.number().int().min(0);

/**
 * Options of the `domogik` host adapter (§11.34: ip, ports, name, host and the config service
 * are configurable, with Domogik's defaults).
 */
export const domogikConfig = z
  .object({
    /** `external`: join a running Domogik bus; `embedded`: run our own broker and forwarder (bound, not connected). */
    bus: z.enum(['external', 'embedded']).default('external'),
    /** The bus address (Domogik's `[mq] ip`); the embedded bus binds it. */
    ip: z.string().min(1).default('127.0.0.1'),
    /** Broker port (`req_rep_port`). 0 with the embedded bus: any free port. */
    reqRepPort: port.default(40410),
    /** Forwarder port publishers connect to (`pub_port`). */
    pubPort: port.default(40411),
    /** Forwarder port subscribers connect to (`sub_port`). */
    subPort: port.default(40412),
    /** The plugin's package name (lower case), as in `plugin-<name>.<host>`. */
    name: z
      .string()
      .regex(/^[a-z0-9_]{1,32}$/, 'lower-case letters, digits and "_"')
      .default('patchbay'),
    /** Override of the sanitized OS hostname (§7.1); must equal the Domogik manager's host. */
    host: z
      .string()
      .regex(/^[a-z0-9_]{1,16}$/, 'a sanitized hostname: lower case, no "-" or ".", at most 16 characters')
      .optional(),
    /**
     * Who answers `config.get`/`device.get`: `admin` (Domogik 0.6), `dbmgr` (0.4/0.5), `auto`
     * (ask the broker's `mmi.service` for dbmgr, §10), or `none` (no Domogik core: take the
     * mapping from `sensors`/`commands` and start alive at once).
     */
    configService: z.enum(['admin', 'dbmgr', 'auto', 'none']).default('admin'),
    /** Send the timeout frame in requests (§5.2); false for a domogik-mq older than 2016-09-21 (§10). */
    timeoutFrame: z.boolean().default(true),
    /** `config.get` timeout (Domogik uses 15 s). */
    configTimeoutMs: z.number().int().min(100).default(15_000),
    /** `device.get` timeout (Domogik uses 10 s). */
    deviceTimeoutMs: z.number().int().min(100).default(10_000),
    /** `plugin.status` re-publication period (§7.2: 15 s). */
    statusIntervalMs: z.number().int().min(1000).max(15_000).default(15_000),
    /** Pause after connecting the publisher before the first publication (§4.4: at least 200 ms). */
    joinDelayMs: z.number().int().min(200).max(5000).default(300),
    /** How long a device may take to answer a `client.cmd` (xplgw gives up after 10 s, §7.3). */
    commandTimeoutMs: z.number().int().min(100).max(9500).default(9000),
    /** Sensor ids when Domogik holds no device definitions: `{"thermo1.temperature": 57}`. */
    sensors: z.record(channelKey, dbId).default({}),
    /** Command ids likewise: `{"thermo1.relay": 80}`. */
    commands: z.record(channelKey, dbId).default({}),
    /** Embedded bus: most requests the broker queues for one service while no worker is free; the oldest go beyond it. */
    brokerMaxQueue: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Largest message part on the bus: what a peer may send to the embedded bus's three TCP ports, and what the gateway takes from an external bus; libzmq drops a connection carrying more (13.7). */
    busMaxMessageBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(defaultListenerLimits.maxMessageBytes),
    /** Embedded bus: most admitted TCP connections at once on each of its three ports; more are refused at the handshake, with a log line (13.7). */
    busMaxConnections: z.number().int().min(1).max(65_536).default(defaultListenerLimits.maxConnections),
    /** Domogik device ids of Patchbay devices, to check `client.cmd`'s `device_id`: `{"thermo1": 8}`. */
    deviceIds: z.record(z.string().min(1), dbId).default({}),
  })
  .strict();

/** Validated options of the `domogik` adapter. */
export type DomogikConfig = z.output<typeof domogikConfig>;
