import { failedReply } from './commands.js';
import { ErrorCodes } from './errors.js';
import { newEventId, type OutboundEvent, type StateEvent } from './events.js';
import type { EventRouter } from './eventRouter.js';
import type { Journal } from './journal.js';
import type { Logger } from './logger.js';
import type { DeviceRuntime, HostRuntime } from './runtime.js';
import type { StateStore } from './stateStore.js';

/** What recovery reaches of the gateway it brings back. */
export interface JournalRecoveryDeps {
  store: StateStore;
  devices: ReadonlyMap<string, DeviceRuntime>;
  hosts: ReadonlyMap<string, HostRuntime>;
  router: EventRouter;
  logger: Logger;
}

/**
 * Opens the journal at start: the sequence numbers go on from its last one, the store gets its
 * states back, every host is handed again what it had not taken (under the current routes),
 * and commands that never had their answer are failed to their hosts.
 */
export async function recoverJournal(journal: Journal, deps: JournalRecoveryDeps): Promise<void> {
  const { store, hosts, router, logger } = deps;
  const recovery = await journal.open({
    *states(): Iterable<StateEvent> {
      for (const s of store.states()) yield { kind: 'state', id: newEventId(s.time), time: s.time, origin: s.device, device: s.device, channel: s.channel, value: s.value };
    },
    heldBack: (ids) => router.rebase(journal, ids),
    waiting: (id) => hosts.get(id)?.outbox.queued ?? 0,
  });
  router.seq = recovery.lastSeq;
  for (const state of recovery.states) if (deps.devices.has(state.device)) store.apply(state);
  let replayed = 0;
  // A corrupt record may have been a host's cursor: a host without one then gets everything
  // still on disk (duplicates at worst) rather than nothing (losses).
  const corrupt = recovery.corrupt.length > 0;
  recovery.replay((seq, event, only) => {
    // An event journaled again for one host goes to that host, if the routes still send it there.
    for (const host of targetsOf(event, deps)) {
      if (only !== undefined && host.id !== only) continue;
      const cursor = recovery.cursors.get(host.id) ?? (corrupt ? 0 : undefined);
      if (cursor !== undefined && seq > cursor) {
        host.outbox.push(event, seq);
        replayed++;
      }
    }
  });
  // A host with no cursor is new to the journal: it is owed nothing from before, but from
  // now on it must have a cursor, or a crash before its first delivery would forget it.
  for (const host of hosts.values()) if (!recovery.cursors.has(host.id)) journal.ack(host.id, corrupt ? 0 : recovery.lastSeq);
  if (corrupt) {
    logger.warn(
      { code: ErrorCodes.JOURNAL_CORRUPT, corrupt: recovery.corrupt.length, first: recovery.corrupt[0] },
      `journal: ${recovery.corrupt.length} corrupt record${recovery.corrupt.length === 1 ? '' : 's'} skipped (${ErrorCodes.JOURNAL_CORRUPT}); the records around them were kept, and hosts may get some events twice`,
    );
  }
  // A cursor whose host left the configuration would keep every later segment forever.
  for (const [id, cursor] of recovery.cursors) {
    if (hosts.has(id)) continue;
    journal.release(id);
    logger.warn(
      { host: id, cursor, lastSeq: recovery.lastSeq },
      `journal: host ${id} is no longer configured; released its cursor (it had not received events ${cursor + 1}..${recovery.lastSeq}, which are not kept for it)`,
    );
  }
  for (const command of recovery.openCommands) {
    const host = hosts.get(command.origin);
    if (host) router.route(failedReply(command, ErrorCodes.GATEWAY_RESTARTED, 'the gateway restarted before the device answered; the command may or may not have been carried out'), [host]);
  }
  logger.info(
    { lastSeq: recovery.lastSeq, replayed, openCommands: recovery.openCommands.length, states: recovery.states.length },
    `journal recovered: ${replayed} undelivered events requeued, ${recovery.openCommands.length} unanswered commands failed`,
  );
}

/** The hosts an event goes to under the current routes (used on replay). */
function targetsOf(event: OutboundEvent, { devices, hosts }: JournalRecoveryDeps): readonly HostRuntime[] {
  switch (event.kind) {
    case 'state':
    case 'description':
    case 'momentary':
    case 'availability':
      return devices.get(event.device)?.hosts ?? [];
    case 'reply': {
      const host = hosts.get(event.to);
      return host ? [host] : [];
    }
    case 'status': {
      const device = devices.get(event.endpoint);
      return device ? device.hosts : [...hosts.values()].filter((h) => h.id !== event.endpoint);
    }
  }
}
