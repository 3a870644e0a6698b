// The shared server: a loopback TCP address (with the token the server wrote to a file only
// its user can read) or a UNIX socket (mode 0600: no token needed).

import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

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

export type Endpoint = TcpAddress | { path: string };

/** A connected socket, or an Error that says how to start the shared server. */
export function connect(endpoint: Endpoint, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const unix = 'path' in endpoint;
    const socket = unix ? net.connect({ path: endpoint.path })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const where = unix ? endpoint.path : formatTcp(endpoint);
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(`cannot reach the verifix server at ${where} (${why}); start it with: `
        + `verifix serve ${unix ? '--socket' : '--tcp'} ${where}`));
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

/** Where `verifix serve --tcp` may have written the token of `port`, in the order the server's
 * runtime directory is chosen (platformdirs: $XDG_RUNTIME_DIR, /run/user/UID, TMP/runtime-UID). */
export function tokenCandidates(port: number, env: NodeJS.ProcessEnv = process.env,
  uid = os.userInfo().uid): string[] {
  const dirs = [env.XDG_RUNTIME_DIR, `/run/user/${uid}`, path.join(os.tmpdir(), `runtime-${uid}`)];
  return dirs.filter((d): d is string => Boolean(d))
    .map((d) => path.join(d, 'verifix', `tcp-${port}.token`));
}

/** The token of the server on `port`: from `tokenFile` when set, else the first candidate that
 * exists. The file must be readable by its owner only. */
export function readToken(port: number, tokenFile = '', env: NodeJS.ProcessEnv = process.env,
  uid = os.userInfo().uid): string {
  const candidates = tokenFile ? [tokenFile] : tokenCandidates(port, env, uid);
  const file = candidates.find((c) => fs.existsSync(c));
  if (!file) {
    throw new Error(`no token for the verifix server on port ${port} (looked in `
      + `${candidates.join(', ')}); start it on this machine with: verifix serve --tcp `
      + `127.0.0.1:${port}, or set verifix.server.tokenFile`);
  }
  const info = fs.statSync(file);
  if ((info.mode & 0o077) !== 0 || info.uid !== uid) {
    throw new Error(`${file} must be yours and readable by you only (chmod 600)`);
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  if (!token) {
    throw new Error(`${file} is empty`);
  }
  return token;
}
