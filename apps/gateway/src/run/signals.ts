import { describeError } from '@patchbay/core';

/** The logger calls the signal handling makes. */
type SignalLogger = {
  info(msg: string): void;
  warn(msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
  flush?: () => void;
};

/** An event emitter with `process`'s signal events (tests pass their own). */
type SignalSource = Pick<NodeJS.EventEmitter, 'on' | 'off'>;

/** How the process stops on a signal. */
export interface SignalOptions {
  /** Stops the gateway (drains outboxes); called once. Late-bound: a signal may come during start-up. */
  stop(): Promise<void>;
  logger: SignalLogger;
  /** Ends the process (`process.exit` in production). */
  exit(code: number): void;
  /**
   * A second signal sooner than this after the first is logged and ignored: GNU `timeout`, or
   * a signal sent to the whole process group, delivers two within milliseconds, and that must
   * not skip the drain. A later one forces the exit. Default 2000 ms.
   */
  graceMs?: number;
  /** Exit 0 this long after the first signal, whatever the drain still holds (it is journaled). */
  deadlineMs?: number;
  /**
   * SIGINT comes from a terminal (stdin is a TTY): a second Ctrl-C forces the exit at once,
   * since a person asked twice.
   */
  interactive?: boolean;
  /**
   * Called first and synchronously on every signal, with the signal's number (a mode's own log
   * lines, removing its pid file). When given, the default "received" line is not logged.
   */
  onSignal?(signal: NodeJS.Signals, number: number, first: boolean): void;
  /** SIGHUP re-reads the config (a daemon's convention); without it SIGHUP is only logged. */
  reload?: () => void;
  /** Clock, for tests. */
  now?: () => number;
  /** Where signals come from; default `process`. */
  source?: SignalSource;
}

const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * The one signal handling of every launch: SIGTERM or SIGINT stops cleanly and exits 0; a
 * second one forces exit 1 only after `graceMs` (or at once for a second Ctrl-C on a
 * terminal); SIGHUP reloads the config (`reload`), never stops; an uncaught error is fatal. Returns a remover.
 */
export function handleSignals(options: SignalOptions): () => void {
  const { logger, exit } = options;
  const source = options.source ?? process;
  const now = options.now ?? Date.now;
  const graceMs = options.graceMs ?? 2000;
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const finish = (code: number) => {
    logger.flush?.();
    exit(code);
  };
  const onStop = (signal: NodeJS.Signals) => {
    options.onSignal?.(signal, numbers[signal] ?? 0, first === undefined);
    if (first) {
      const elapsed = now() - first.at;
      const twiceFromTerminal = options.interactive === true && signal === 'SIGINT' && first.signal === 'SIGINT';
      if (twiceFromTerminal || elapsed >= graceMs) {
        logger.warn(`${signal} again: exiting without finishing the drain (what is left is journaled)`);
        finish(1);
      } else {
        logger.info(`${signal} again ${elapsed} ms after ${first.signal}: ignored, still stopping (send it again after ${graceMs} ms to force the exit)`);
      }
      return;
    }
    first = { signal, at: now() };
    if (!options.onSignal) logger.info(`${signal} received: stopping (draining outboxes)`);
    if (options.deadlineMs !== undefined) setTimeout(() => finish(0), options.deadlineMs).unref();
    options.stop().then(
      () => finish(0),
      (error: unknown) => {
        logger.error({ err: error }, `stop failed: ${describeError(error)}`);
        finish(1);
      },
    );
  };
  // A daemon outlives its terminal: SIGHUP must not stop it.
  const onHangup = () => {
    if (options.reload) {
      logger.info('SIGHUP received: reloading the config');
      options.reload();
    } else logger.info('SIGHUP received: ignored (the gateway keeps running; restart it to reload the config)');
  };
  source.on('SIGTERM', onStop);
  source.on('SIGINT', onStop);
  source.on('SIGHUP', onHangup);
  const removeFatal = source === process ? exitOnFatal(logger, finish) : () => undefined;
  return () => {
    source.off('SIGTERM', onStop);
    source.off('SIGINT', onStop);
    source.off('SIGHUP', onHangup);
    removeFatal();
  };
}

/**
 * A throw nothing caught is a bug, and the state it leaves is unknown: say what it was, in the
 * gateway's own log, and exit non-zero so whatever supervises the process (systemd, Docker,
 * a host's daemon check) starts it again. The journal keeps everything that was accepted.
 * Returns a function that removes the handlers.
 */
export function exitOnFatal(logger: Pick<SignalLogger, 'fatal' | 'flush'>, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onFatal = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${kind}: ${describeError(error)}; exiting (this is a bug: please report it with this line)`);
    logger.flush?.();
    exit(1);
  };
  const onException = onFatal('uncaught exception');
  const onRejection = onFatal('unhandled promise rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
