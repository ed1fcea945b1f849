// What every test file on the private Tor network (circuit-isolation,
// profiles-tor, jail-circuits) starts and stops the same way: the network in
// the file's namespace, a watcher of the client's stream events, one stream
// through the network before any test (bootstrapped is not yet "the exit
// carries streams"), and at the end every process, the namespace and the
// work directory gone. The namespace and the target server are the file's
// own (some files set up more in the namespace between the two).
import { rmSync } from 'node:fs';
import type { ResultPromise } from 'execa';
import { deleteNamespace } from './isolated-tor';
import {
  startPrivateTorNetwork,
  StreamWatcher,
  waitForFirstStream,
  type PrivateTorNetwork,
  type PrivateTorOptions,
} from './private-tor-network';

export interface NetworkOptions extends PrivateTorOptions {
  /** How long the client may take to bootstrap. */
  bootstrapMs?: number;
  /** Give the watcher the client's socket table (to match streams to the launches' source ports). */
  tcpTable?: boolean;
  /** Called with the watcher (and the network: `network` is not the caller's yet) before the first stream, to tap its events. */
  onWatcher?: (watcher: StreamWatcher, network: PrivateTorNetwork) => void;
}

/**
 * Starts the network in NS (files under DIR), opens its watcher and waits
 * for FIRST (one launch through it) to succeed. Stops the network again when
 * any of that fails, so a failed beforeAll leaves no tor behind.
 */
export async function startNetworkWithFirstStream(
  ns: string,
  dir: string,
  first: () => Promise<{ ok: boolean; detail: string }>,
  options: NetworkOptions = {},
): Promise<{ network: PrivateTorNetwork; watcher: StreamWatcher }> {
  const setupStart = Date.now();
  const network = await startPrivateTorNetwork(ns, dir, options.bootstrapMs, options);
  let watcher: StreamWatcher | undefined;
  try {
    watcher = await StreamWatcher.open(
      network.controlSocket,
      network.cookieFile,
      options.tcpTable ? { tcpTable: `/proc/${network.clientPid}/net/tcp` } : undefined,
    );
    options.onWatcher?.(watcher, network);
    await waitForFirstStream(first, watcher);
  } catch (error) {
    watcher?.close();
    await network.stop();
    throw error;
  }
  console.log(
    `private Tor network: bootstrapped in ${(network.bootstrapMs / 1000).toFixed(1)} s, first stream after ${((Date.now() - setupStart) / 1000).toFixed(1)} s`,
  );
  return { network, watcher };
}

/** Everything a private-network file started, stopped (by PID), its namespace deleted and WORK removed. */
export async function stopPrivateTorSuite(parts: {
  watcher?: StreamWatcher;
  network?: PrivateTorNetwork;
  server?: ResultPromise;
  ns: string;
  work?: string;
  label: string;
  suiteStart: number;
}): Promise<void> {
  parts.watcher?.close();
  await parts.network?.stop();
  const { server } = parts;
  if (server?.pid !== undefined && server.exitCode === null) {
    process.kill(server.pid, 'SIGTERM');
    await server;
  }
  await deleteNamespace(parts.ns);
  if (parts.work) rmSync(parts.work, { recursive: true, force: true });
  console.log(`${parts.label}: ${((Date.now() - parts.suiteStart) / 1000).toFixed(1)} s in all`);
}
