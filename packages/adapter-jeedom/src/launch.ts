/**
 * `@patchbay/adapter-jeedom/launch`: what a launcher that runs the gateway as Jeedom's plugin
 * daemon (the gateway's Jeedom mode) needs from this adapter before the gateway starts. A
 * documented subpath, so the launcher never reaches into the adapter's internals.
 */
import type { Logger } from '@patchbay/core';
import { CallbackClient } from './transport/callbackClient.js';

/** What {@link testCallback} needs: the `--callback` URL and `--apikey` as Jeedom passed them. */
export interface CallbackTestOptions {
  callback: string;
  apikey: string;
  /** Gets the reference's ERROR line when the test fails. */
  logger: Logger;
}

/**
 * The start-up test of launch mode (protocols/jeedom.md §2.3 step 6, §10 items 12-13): one
 * `GET <callback>?apikey=<key>`, no body. Resolves on 200; otherwise logs the reference's
 * ERROR line and rejects with `HOST_UNREACHABLE`.
 */
export async function testCallback(options: CallbackTestOptions): Promise<void> {
  const client = new CallbackClient({ callback: options.callback, apikey: options.apikey, logger: options.logger });
  try {
    await client.test();
  } finally {
    client.close();
  }
}
