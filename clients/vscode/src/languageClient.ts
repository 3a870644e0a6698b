// The real client: vscode-languageclient over stdio (a server of our own), or a UNIX socket or
// TCP (a shared one).

import type { CancellationToken } from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  StreamInfo,
} from 'vscode-languageclient/node';
import { ClientLike, ClientOptions, ServerSpec } from './controller';
import { CONFIG_SECTION } from './protocol';
import { connect } from './tcp';

export const SERVER_ARGS = ['-m', 'verifix', 'serve'];

export function serverOptions(spec: ServerSpec): ServerOptions {
  if (spec.kind !== 'stdio') {
    return async (): Promise<StreamInfo> => {
      const socket = await connect(spec.kind === 'tcp' ? spec.address : { path: spec.path });
      return { reader: socket, writer: socket };
    };
  }
  return { command: spec.python, args: SERVER_ARGS, options: { cwd: spec.cwd } };
}

export function clientOptions(opts: ClientOptions): LanguageClientOptions {
  return {
    documentSelector: [{ scheme: 'file', language: 'python' }],
    outputChannel: opts.outputChannel,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: opts.initializationOptions,
    middleware: {
      executeCommand: (command, args, next) => opts.executeCommand(command, args, next),
      workspace: {
        // Only the settings the user set (see settings.ts), without the client's own keys.
        configuration: async (params, token, next) => {
          const answer = await next(params, token);
          if (!Array.isArray(answer)) {
            return answer;
          }
          return answer.map((value: unknown, i) =>
            params.items[i]?.section === CONFIG_SECTION ? opts.configuration() : value);
        },
      },
    },
  };
}

export function createLanguageClient(spec: ServerSpec, opts: ClientOptions): ClientLike {
  return asClientLike(new LanguageClient('verifix', 'verifix', serverOptions(spec),
    clientOptions(opts)));
}

/** The ClientLike slice of a LanguageClient. */
export function asClientLike(client: LanguageClient): ClientLike {
  return {
    start: () => client.start(),
    dispose: (timeoutMs) => client.dispose(timeoutMs),
    // sendRequest(method, params, undefined) sends `[params, null]` as the params (an undefined
    // token is not a token): pass the token only when there is one.
    sendRequest: <R>(method: string, params: unknown, token?: CancellationToken) =>
      token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params),
    sendNotification: (method, params) => client.sendNotification(method, params),
    onNotification: (method, handler) => client.onNotification(method, handler),
    // Starting is not "stopped": the status bar would flash "not running" at every start.
    onRunningChange: (listener) => client.onDidChangeState((e) => {
      if (e.newState !== State.Starting) {
        listener(e.newState === State.Running);
      }
    }),
    code2ProtocolConverter: client.code2ProtocolConverter,
  };
}
