import { describeError, ErrorCodes, quoteForLog, type CommandEvent, type ReplyInit } from '@patchbay/core';
import type { IPublishPacket } from 'mqtt';
import { decode, ReplyPayloadSchema } from './protocol/payload.js';
import type { LinkSession } from './session.js';

/** What the link knows of another gateway of the cluster. */
export interface PeerState {
  status: 'online' | 'offline' | 'unknown';
  /** The boot id of its current run: a new one means it restarted. */
  boot: string | undefined;
}

interface Pending {
  gateway: string;
  device: string;
  finish: (reply: ReplyInit) => void;
}

/**
 * Commands to remote devices, forwarded to their owners as MQTT 5 requests (issue 19.4): the
 * correlation data is the command id, the response topic ours, and each command gets exactly
 * one reply: the owner's, or a coded failure (timeout, owner restarted, link stopping).
 */
export class ForwardedCommands {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly session: LinkSession,
    /** The other gateways by id, as the remote side tracks them. */
    private readonly peers: ReadonlyMap<string, PeerState>,
    /** How long a forwarded command may take, ms: the gateway's `commandTimeoutMs`. */
    private readonly timeoutMs: number,
  ) {}

  /** An MQTT 5 request to `gateway`, the owner of `device`; resolves with its reply, or a coded failure. */
  send(device: string, gateway: string | undefined, command: CommandEvent): Promise<ReplyInit> {
    const { session } = this;
    const client = session.client;
    const owner = gateway ?? '?';
    const peer = this.peers.get(owner);
    if (gateway === undefined || client === undefined || peer?.status !== 'online') {
      return Promise.resolve({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `device ${device} is on gateway ${owner}, which is ${peer?.status === 'offline' ? 'offline' : 'not reachable'}` });
    }
    const timeoutMs = this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const body = JSON.stringify({ device, channel: command.channel, action: command.action, value: command.value, args: command.args });
    return new Promise<ReplyInit>((resolve) => {
      const timer = setTimeout(() => {
        const status = this.peers.get(owner)?.status;
        finish({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT, error: `gateway ${owner} did not answer for ${device} within ${timeoutMs} ms${status === 'online' ? '' : ` (it is ${status})`}` });
      }, timeoutMs);
      const finish = (reply: ReplyInit): void => {
        if (this.pending.get(command.id)?.finish !== finish) return;
        this.pending.delete(command.id);
        clearTimeout(timer);
        resolve(reply);
      };
      this.pending.set(command.id, { gateway: owner, device, finish });
      // The broker drops the request once nobody waits for it (message expiry), so a gateway
      // back from an outage never runs a command whose asker already had its timeout.
      const properties: IPublishPacket['properties'] = {
        responseTopic: session.topics.reply,
        correlationData: Buffer.from(command.id),
        messageExpiryInterval: Math.max(1, Math.floor(timeoutMs / 1000)),
        userProperties: { deadline: String(deadline), ...(peer.boot === undefined ? {} : { boot: peer.boot }) },
      };
      client.publish(session.topics.command(owner), body, { qos: 1, retain: false, properties }, (error) => {
        if (error) finish({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `the command for ${device} could not be sent to gateway ${owner}: ${describeError(error)}` });
      });
    });
  }

  /** Every command waiting for `gateway` gets `reply` (it restarted: it will not answer them). */
  failFor(gateway: string, reply: ReplyInit): void {
    for (const pending of [...this.pending.values()]) if (pending.gateway === gateway) pending.finish(reply);
  }

  /** Every command waiting for `device` gets `reply` (its stand-in stops, or it left this gateway). */
  failForDevice(device: string, reply: ReplyInit): void {
    for (const pending of [...this.pending.values()]) if (pending.device === device) pending.finish(reply);
  }

  /** Every waiting command gets `reply` (the link stops). */
  failAll(reply: ReplyInit): void {
    // finish takes each out of `pending` itself (and ignores one already gone), so it runs on a copy.
    for (const pending of [...this.pending.values()]) pending.finish(reply);
  }

  /** An owner's answer on our response topic. */
  onReply(payload: Buffer, packet: IPublishPacket): void {
    const id = packet.properties?.correlationData?.toString('utf8');
    const pending = id === undefined ? undefined : this.pending.get(id);
    // A duplicate, or the answer to a command that has had its reply already (timeout, restart).
    if (pending === undefined) return;
    const body = decode(payload, ReplyPayloadSchema, this.session.config.maxMessageBytes);
    if (!body.ok) {
      pending.finish({ ok: false, code: ErrorCodes.COMMAND_FAILED, error: `gateway ${pending.gateway} answered with a reply that is refused: ${quoteForLog(body.error, 200)}` });
      return;
    }
    const reply = body.value;
    pending.finish(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', ...(reply.code === undefined ? {} : { code: reply.code }) });
  }
}
