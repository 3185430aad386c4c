import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpHandler, HttpMount, UpgradeHandler } from '@patchbay/core';

/**
 * A tiny HttpMount over a real node:http server on port 0, standing in for the gateway's
 * (exact-path routing on the pathname, query ignored; unknown upgrades get 404).
 */
export interface TestHttp {
  mount: HttpMount;
  server: Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  routes: Map<string, HttpHandler>;
  upgrades: Map<string, UpgradeHandler>;
  close(): Promise<void>;
}

/** Start a {@link TestHttp} on 127.0.0.1, port 0. */
export async function startTestHttp(): Promise<TestHttp> {
  const routes = new Map<string, HttpHandler>();
  const upgrades = new Map<string, UpgradeHandler>();
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const handler = routes.get(path);
    if (handler) return handler(request, response);
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found\n');
  });
  server.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const handler = upgrades.get(path);
    if (handler) return handler(request, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  const mount: HttpMount = {
    route(path, handler) {
      routes.set(path, handler);
      return () => {
        if (routes.get(path) === handler) routes.delete(path);
      };
    },
    upgrade(path, handler) {
      upgrades.set(path, handler);
      return () => {
        if (upgrades.get(path) === handler) upgrades.delete(path);
      };
    },
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    mount,
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    routes,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
