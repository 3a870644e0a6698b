import * as net from 'net';

export interface TcpAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:2087", "[::1]:2087", "localhost:2087" -> {host, port}; Error otherwise. */
export function parseTcp(value: string): TcpAddress {
  const text = value.trim();
  const at = text.lastIndexOf(':');
  const host = (at < 0 ? '' : text.slice(0, at)).replace(/^\[(.*)\]$/, '$1');
  const portText = at < 0 ? '' : text.slice(at + 1);
  const port = Number(portText);
  if (!host || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`verifix.server.tcp must be HOST:PORT (e.g. 127.0.0.1:2087), got "${value}"`);
  }
  return { host, port };
}

export function formatTcp({ host, port }: TcpAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A connected socket, or an Error that says how to start the shared server. */
export function connect(address: TcpAddress, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(`cannot reach the verifix server at ${formatTcp(address)} (${why}); `
        + `start it with: verifix serve --tcp ${formatTcp(address)}`));
    };
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message);
    socket.setTimeout(timeoutMs, () => fail('timed out'));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', onError);  // the JSON-RPC reader listens from here on
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
