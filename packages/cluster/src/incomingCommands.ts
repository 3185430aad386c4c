import { describeError, ErrorCodes, quoteForLog, type ReplyInit } from '@patchbay/core';
import type { IPublishPacket } from 'mqtt';
import { decode, encodeReply, RequestSchema } from './protocol/payload.js';
import type { LinkSession } from './session.js';

/** Requests remembered per asker to drop QoS 1 redeliveries; a bounded window, oldest first. */
const SEEN_REQUESTS = 10_000;
/** Time kept back from a forwarded command's deadline for its reply to reach the asker. */
const REPLY_TRANSIT_MS = 200;

/**
 * Commands other gateways send to this gateway's devices (issue 19.4): each runs through this
 * core's `submit`, with its checks and timeouts, at most once, and exactly one reply goes back
 * on the asker's response topic. One sent to an earlier run of this gateway, or arriving after
 * its asker's deadline, is refused, not carried out.
 */
export class IncomingCommands {
  private readonly seen = new Set<string>();

  constructor(private readonly session: LinkSession) {}

  async onRequest(payload: Buffer, packet: IPublishPacket): Promise<void> {
    const { session } = this;
    const { config, ctx, topics } = session;
    const client = session.client;
    const responseTopic = packet.properties?.responseTopic;
    const correlation = packet.properties?.correlationData;
    if (client === undefined) return;
    if (responseTopic === undefined || correlation === undefined || correlation.length > 128 || !topics.isResponseTopic(responseTopic)) {
      session.warnOnce('request', `cluster: a request without a response topic of the cluster (<${config.name}>/<gateway>/reply) and correlation data is dropped (${ErrorCodes.COMMAND_INVALID}); logged once`);
      return;
    }
    // QoS 1 may deliver a request twice (a broker restart): it runs once.
    const key = `${responseTopic}\u0000${correlation.toString('hex')}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > SEEN_REQUESTS) this.seen.delete(this.seen.values().next().value as string);
    const answer = (reply: ReplyInit): void => {
      client.publish(responseTopic, encodeReply(reply), { qos: 1, retain: false, properties: { correlationData: correlation } }, (error) => {
        if (error) ctx.logger.debug(`cluster: reply not sent: ${describeError(error)}`);
      });
    };
    const user = packet.properties?.userProperties ?? {};
    const boot = user.boot;
    if (typeof boot === 'string' && boot !== session.boot) {
      answer({ ok: false, code: ErrorCodes.GATEWAY_RESTARTED, error: `gateway ${config.gateway} restarted since the command was sent; not carried out` });
      return;
    }
    // The reply needs time to travel back too: a command that could only answer after its
    // asker's deadline is not started (the asker has its timeout reply by then).
    const remaining = Number(user.deadline) - Date.now() - REPLY_TRANSIT_MS;
    if (!(remaining > 0)) {
      const asker = topics.parse(responseTopic)?.gateway;
      ctx.logger.info({ asker, code: ErrorCodes.COMMAND_TIMEOUT }, `cluster: a command from gateway ${asker} reached this gateway after its deadline (its asker has had its timeout reply); not carried out`);
      answer({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT, error: `the command reached gateway ${config.gateway} after its asker's deadline; not carried out` });
      return;
    }
    const request = decode(payload, RequestSchema, config.maxMessageBytes);
    if (!request.ok) {
      ctx.logger.warn({ code: ErrorCodes.COMMAND_INVALID }, `cluster: a forwarded command is refused (${ErrorCodes.COMMAND_INVALID}): ${quoteForLog(request.error, 200)}`);
      answer({ ok: false, code: ErrorCodes.COMMAND_INVALID, error: `invalid command: ${request.error}` });
      return;
    }
    const { device, channel, action, value, args } = request.value;
    const input = channel !== undefined ? { device, channel, value: value ?? null } : { device, action: action as string, ...(args === undefined ? {} : { args }) };
    const reply = await ctx.submit(input, { timeoutMs: remaining });
    answer(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', ...(reply.code === undefined ? {} : { code: reply.code }) });
  }
}
