/** A TCP proxy in front of the broker whose link can be cut and restored: a network partition for one client. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private readonly server: Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((inbound) => this.accept(inbound));
  }

  static async start(target: { host: string; port: number }): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  private accept(inbound: Socket): void {
    if (!this.open) {
      inbound.destroy();
      return;
    }
    const outbound = connect(this.target.port, this.target.host);
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Cuts every connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
