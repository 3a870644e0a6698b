// The real vscode-languageclient wiring and the extension's entry point, on the fake `vscode`.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe as suite, test } from 'node:test';
import type * as vscode from 'vscode';
import type { ConfigurationParams, LanguageClient, StreamInfo } from 'vscode-languageclient/node';
import { ClientOptions } from '../../src/controller';
import * as extension from '../../src/extension';
import {
  SERVER_ARGS, asClientLike, clientOptions, createLanguageClient, serverOptions,
} from '../../src/languageClient';
import { withListener } from '../fake/loopback';
import { fake, window } from '../fake/vscode';

const packageJSON: unknown = JSON.parse(fs.readFileSync(
  path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

function options(): ClientOptions {
  return {
    initializationOptions: () => ({ pipeline: { candidates: 2 } }),
    configuration: () => ({ model: '/m.gguf' }),
    executeCommand: (command) => `ran ${command}`,
    outputChannel: window.createOutputChannel('verifix') as unknown as vscode.OutputChannel,
  };
}

suite('languageClient', () => {
  test('starts python -m verifix serve in the workspace folder', () => {
    assert.deepEqual(SERVER_ARGS, ['-m', 'verifix', 'serve']);
    assert.deepEqual(serverOptions({ kind: 'stdio', python: '/venv/bin/python', cwd: '/w' }),
      { command: '/venv/bin/python', args: SERVER_ARGS, options: { cwd: '/w' } });
  });

  test('or connects to the shared server', async () => {
    await withListener(async (port) => {
      const make = serverOptions({ kind: 'tcp', address: { host: '127.0.0.1', port }, token: 't' });
      assert.equal(typeof make, 'function');
      const stream = await (make as () => Promise<StreamInfo>)();
      assert.equal(stream.reader, stream.writer);
      (stream.reader as net.Socket).destroy();
    });
  });

  test('client options: Python files, our settings object, server commands through the job UI', async () => {
    const o = clientOptions(options());
    assert.deepEqual(o.documentSelector, [{ scheme: 'file', language: 'python' }]);
    const init = o.initializationOptions as () => unknown; // called at each (re)start
    assert.deepEqual(init(), { pipeline: { candidates: 2 } });
    const params: ConfigurationParams = { items: [{ section: 'verifix' }, { section: 'python' }] };
    const next = () => [{ interpreter: '/x', model: 'default' }, { python: true }];
    const configuration = o.middleware?.workspace?.configuration as unknown as
      (p: ConfigurationParams, t: unknown, n: typeof next) => Promise<unknown[]>;
    assert.deepEqual(await configuration(params, undefined, next), [{ model: '/m.gguf' }, { python: true }]);
    const execute = o.middleware?.executeCommand as unknown as
      (c: string, a: unknown[], n: () => unknown) => unknown;
    assert.equal(execute('verifix.generate', [], () => 'next'), 'ran verifix.generate');
  });

  test('a real LanguageClient is made (not started) behind the ClientLike slice', () => {
    const client = createLanguageClient({ kind: 'stdio', python: '/venv/bin/python' }, options());
    for (const key of ['start', 'dispose', 'sendRequest', 'sendNotification', 'onNotification',
      'onRunningChange'] as const) {
      assert.equal(typeof client[key], 'function', key);
    }
    assert.equal(typeof client.code2ProtocolConverter.asUri, 'function');
  });

  test('a request without a token sends its params alone (not [params, null])', async () => {
    const calls: unknown[][] = [];
    const stub = { sendRequest: (...args: unknown[]) => { calls.push(args); return Promise.resolve(); } };
    const client = asClientLike(stub as unknown as LanguageClient);
    await client.sendRequest('textDocument/codeAction', { a: 1 });
    await client.sendRequest('workspace/executeCommand', { b: 2 }, undefined);
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    await client.sendRequest('workspace/executeCommand', { c: 3 }, token);
    assert.deepEqual(calls, [['textDocument/codeAction', { a: 1 }],
      ['workspace/executeCommand', { b: 2 }], ['workspace/executeCommand', { c: 3 }, token]]);
  });

  test('the entry point activates: commands at once, the failure in the status bar', async () => {
    fake.reset();
    fake.settings['verifix.interpreter'] = '/nonexistent/python';
    const context = { subscriptions: [], extension: { packageJSON } };
    extension.activate(context as unknown as vscode.ExtensionContext);
    assert.ok(fake.commands.has('verifix.client.generate'));
    const deadline = Date.now() + 10000;
    while (!fake.messages.some((m) => m.kind === 'error') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(fake.messages[0]?.text ?? '', /"\/nonexistent\/python" cannot run verifix: not found/);
    assert.equal(fake.statusItems[0].text, '$(error) verifix');
    await extension.deactivate();
    assert.equal(fake.commands.size, 0);
  });
});
