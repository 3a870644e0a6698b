// Loopback TCP ports for the tests of the shared-server connection.

import * as net from 'node:net';

async function listen(onConnection?: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** Runs `body` with the port of a server that ends every connection it accepts. */
export async function withListener(body: (port: number) => Promise<void>): Promise<void> {
  const server = await listen((s) => s.end());
  try {
    await body(portOf(server));
  } finally {
    server.close();
  }
}

/** A port that was free a moment ago: nothing listens there now. */
export async function freePort(): Promise<number> {
  const server = await listen();
  const port = portOf(server);
  await new Promise((r) => server.close(r));
  return port;
}
