// The extension against the fake `vscode` module and a fake language client.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe as suite, test } from 'node:test';
import * as vscode from 'vscode';
import {
  BUSY_CONTEXT, CLIENT_COMMANDS, ClientLike, ClientOptions, INTERIM_SCHEME, ServerSpec, Verifix,
} from '../../src/controller';
import * as P from '../../src/protocol';
import { serverKeys } from '../../src/settings';
import { Position, Selection, Uri, fake } from '../fake/vscode';

const packageJson = JSON.parse(fs.readFileSync(
  path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: {
      commands: { command: string }[];
      menus: Record<string, { command?: string; submenu?: string }[]>;
      submenus: { id: string }[];
    };
  };

type Responder = (method: string, params: unknown, token?: vscode.CancellationToken) => unknown;

class FakeClient implements ClientLike {
  started = false;
  disposed = false;
  readonly requests: { method: string; params: unknown; token?: vscode.CancellationToken }[] = [];
  readonly notifications: { method: string; params: unknown }[] = [];
  private readonly handlers = new Map<string, (params: unknown) => void>();
  private readonly running: ((running: boolean) => void)[] = [];
  respond: Responder = () => null;

  constructor(readonly spec: ServerSpec, readonly options: ClientOptions) {}

  async start(): Promise<void> {
    if (failStart) {
      throw new Error(failStart);
    }
    this.started = true;
    this.running.forEach((l) => l(true));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.running.forEach((l) => l(false));
  }

  async sendRequest<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R> {
    this.requests.push({ method, params, token });
    return await this.respond(method, params, token) as R;
  }

  async sendNotification(method: string, params?: unknown): Promise<void> {
    this.notifications.push({ method, params });
  }

  onNotification(method: string, handler: (params: unknown) => void): vscode.Disposable {
    this.handlers.set(method, handler);
    return new vscode.Disposable(() => this.handlers.delete(method));
  }

  onRunningChange(listener: (running: boolean) => void): vscode.Disposable {
    this.running.push(listener);
    return new vscode.Disposable(() => undefined);
  }

  /** The server sends a notification. */
  notify(method: string, params: unknown): void {
    this.handlers.get(method)?.(params);
  }

  readonly code2ProtocolConverter = {
    asUri: (uri: vscode.Uri) => uri.toString(),
    asRange: (r: vscode.Range) => ({ start: { ...r.start }, end: { ...r.end } }),
    asDiagnostics: async (ds: vscode.Diagnostic[]) => ds.map((d) => ({ message: d.message, source: d.source })),
  };
}

const PYTHON = '/venv/bin/python';
let clients: FakeClient[];
let verifix: Verifix;
let pythonExtension: string | undefined;
let failStart = '';

function start(settings: Record<string, unknown> = { 'verifix.interpreter': PYTHON }): Promise<void> {
  fake.reset();
  Object.assign(fake.settings, settings);
  fake.workspaceFolders = [{ uri: Uri.file('/w'), name: 'w', index: 0 }];
  clients = [];
  verifix = new Verifix(serverKeys(packageJson), {
    createClient: (spec, options) => {
      const client = new FakeClient(spec, options);
      clients.push(client);
      return client;
    },
    probe: async (python) => (python === PYTHON || python === pythonExtension
      ? { version: '0.1.0' } : { error: 'not found' }),
    pythonExtension: async () => pythonExtension,
  });
  return verifix.activate({ subscriptions: [] } as unknown as vscode.ExtensionContext);
}

function client(): FakeClient {
  return clients[clients.length - 1];
}

function status(): { text: string; tooltip?: string; backgroundColor?: { id: string } } {
  return fake.statusItems[0];
}

const STUB_URI = Uri.file('/w/mod.py');
const GENERATE_ARGS = { uri: STUB_URI.toString(), qualname: 'double' };

function editorAt(line: number, character: number, languageId = 'python'): void {
  const pos = new Position(line, character);
  fake.activeTextEditor = { document: { uri: STUB_URI, languageId }, selection: new Selection(pos, pos) };
}

function update(fields: Partial<P.JobUpdate>): Partial<P.JobUpdate> {
  return { jobId: 'j1', kind: 'generate', target: '/w/mod.py::double', state: 'running', ...fields };
}

/** A server that lists Generate at any position and runs the job with updates. */
function serveGenerate(c: FakeClient, finish: (token?: vscode.CancellationToken) => Promise<unknown>): void {
  c.respond = async (method, params, token) => {
    if (method === 'textDocument/codeAction') {
      return [{ title: P.TITLE_GENERATE, kind: 'refactor.rewrite',
        command: { title: P.TITLE_GENERATE, command: P.GENERATE, arguments: [GENERATE_ARGS] } }];
    }
    if (method === 'workspace/executeCommand'
      && (params as { command: string }).command === P.GENERATE) {
      c.notify(P.JOB_UPDATE_NOTIFICATION, update({ state: 'queued', message: 'queued' }));
      c.notify(P.JOB_UPDATE_NOTIFICATION, update({ phase: 'probe', message: 'greedy', percent: 40 }));
      return finish(token);
    }
    return null;
  };
}

suite('extension', () => {
  beforeEach(() => {
    pythonExtension = undefined;
    failStart = '';
  });
  afterEach(async () => {
    await verifix.dispose();
  });

  test('registers exactly the contributed palette commands, none of the server\'s', async () => {
    await start();
    const contributed = packageJson.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual([...fake.commands.keys()].sort(), contributed);
    assert.deepEqual(Object.values(CLIENT_COMMANDS).sort(), contributed);
    for (const id of P.COMMANDS) {
      assert.ok(!contributed.includes(id), id);
    }
    const submenus = packageJson.contributes.submenus.map((s) => s.id);
    for (const [menu, items] of Object.entries(packageJson.contributes.menus)) {
      for (const item of items) {
        assert.ok(item.command ? contributed.includes(item.command) : submenus.includes(item.submenu ?? ''),
          `${menu}: ${JSON.stringify(item)}`);
      }
    }
  });

  test('starts python -m verifix serve with the user\'s settings only', async () => {
    await start({ 'verifix.interpreter': PYTHON, 'verifix.pipeline.candidates': 2,
      'verifix.sandbox.allowWeak': false });
    assert.deepEqual(client().spec, { kind: 'stdio', python: PYTHON, cwd: '/w' });
    assert.ok(client().started);
    const expected = { pipeline: { candidates: 2 }, sandbox: { allowWeak: false } };
    assert.deepEqual(client().options.initializationOptions(), expected);
    assert.deepEqual(client().options.configuration(), expected);
    assert.equal(status().text, '$(loading~spin) verifix'); // until the server's first status
  });

  test('uses the Python extension\'s interpreter when the setting is empty', async () => {
    pythonExtension = '/ext/python';
    await start({});
    assert.deepEqual(client().spec, { kind: 'stdio', python: '/ext/python', cwd: '/w' });
  });

  test('the project\'s tests run with the Python extension\'s interpreter unless verifix.python says', async () => {
    pythonExtension = '/ext/python';
    await start({ 'verifix.interpreter': PYTHON });
    assert.deepEqual(client().options.initializationOptions(), { python: '/ext/python' });
    await verifix.dispose();
    await start({ 'verifix.interpreter': PYTHON, 'verifix.python': '.venv/bin/python' });
    assert.deepEqual(client().options.configuration(), { python: '.venv/bin/python' });
  });

  test('no Python with verifix: an error with its remedy, no client', async () => {
    await start({ 'verifix.interpreter': '/nope/python' });
    assert.equal(clients.length, 0);
    assert.equal(status().text, '$(error) verifix');
    assert.match(status().tooltip ?? '', /cannot run verifix: not found[\s\S]*Fix: install verifix/);
    const error = fake.messages.find((m) => m.kind === 'error');
    assert.ok(error && error.actions.includes('Select Interpreter'));
  });

  test('connects to a shared server over TCP, with its token', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-token-'));
    const tokenFile = path.join(dir, 'tcp-2087.token');
    fs.writeFileSync(tokenFile, 's3cret\n', { mode: 0o600 });
    await start({ 'verifix.server.tcp': '127.0.0.1:2087', 'verifix.server.tokenFile': tokenFile });
    assert.deepEqual(client().spec,
      { kind: 'tcp', address: { host: '127.0.0.1', port: 2087 }, token: 's3cret' });
    const init = client().options.initializationOptions();
    assert.equal(init[P.TOKEN_OPTION], 's3cret');
    assert.equal(client().options.configuration()[P.TOKEN_OPTION], undefined, 'never a setting');
    await verifix.dispose();
    await start({ 'verifix.server.tcp': 'nonsense' });
    assert.equal(clients.length, 0);
    assert.match(status().tooltip ?? '', /HOST:PORT/);
    await verifix.dispose();
    fs.chmodSync(tokenFile, 0o644);
    await start({ 'verifix.server.tcp': '127.0.0.1:2087', 'verifix.server.tokenFile': tokenFile });
    assert.equal(clients.length, 0);
    assert.match(status().tooltip ?? '', /readable by you only \(chmod 600\)/);
    fs.rmSync(dir, { recursive: true });
  });

  test('connects to a shared server on a UNIX socket, which wins over TCP', async () => {
    await start({ 'verifix.server.socket': '~/run/verifix.sock', 'verifix.server.tcp': 'x:1' });
    assert.deepEqual(client().spec,
      { kind: 'socket', path: path.join(os.homedir(), 'run/verifix.sock') });
    assert.equal(client().options.initializationOptions()[P.TOKEN_OPTION], undefined);
  });

  test('a server that does not start: the status bar says so, and Restart tries again', async () => {
    failStart = 'cannot reach the verifix server at /run/v.sock (ENOENT)';
    await start({ 'verifix.server.socket': '/run/v.sock' });
    assert.equal(status().text, '$(error) verifix');
    assert.match(status().tooltip ?? '', /did not start: cannot reach[\s\S]*Fix: see "verifix: Show Log"/);
    assert.deepEqual(fake.messages, [], 'vscode-languageclient has shown its own notification');
    failStart = '';
    await fake.commands.get(CLIENT_COMMANDS.restart)?.();
    assert.equal(clients.length, 2);
    assert.ok(clients[0].disposed && client().started);
    assert.equal(status().text, '$(loading~spin) verifix');
  });

  test('status bar follows verifix/status and verifix/jobUpdate', async () => {
    await start();
    const c = client();
    c.notify(P.STATUS_NOTIFICATION, { state: 'loading', model: 'm', message: 'loading m' });
    assert.equal(status().text, '$(loading~spin) verifix: loading');
    c.notify(P.STATUS_NOTIFICATION, { state: 'ready', model: 'm', message: 'm is ready' });
    assert.equal(status().text, '$(check) verifix');
    c.notify(P.JOB_UPDATE_NOTIFICATION, update({ phase: 'probe', percent: 40 }));
    assert.equal(status().text, '$(sync~spin) verifix: generate double 40%');
    assert.deepEqual(fake.executed.at(-1), { id: 'setContext', args: [BUSY_CONTEXT, true] });
    c.notify(P.JOB_UPDATE_NOTIFICATION, update({ state: 'finished', phase: 'done', percent: 100 }));
    assert.equal(status().text, '$(check) verifix');
    assert.deepEqual(fake.executed.at(-1), { id: 'setContext', args: [BUSY_CONTEXT, false] });
    c.notify(P.STATUS_NOTIFICATION, { state: 'error', model: 'm', message: 'the model could not load',
      remedy: 'run `verifix doctor`' });
    assert.equal(status().backgroundColor?.id, 'statusBarItem.errorBackground');
    assert.match(status().tooltip ?? '', /Fix: run `verifix doctor`/);
  });

  test('palette Generate runs the code action at the cursor in a cancellable notification', async () => {
    await start();
    editorAt(3, 4);
    serveGenerate(client(), async () => {
      client().notify(P.JOB_UPDATE_NOTIFICATION, update({ state: 'finished', phase: 'done', percent: 100,
        status: 'verified', applied: true }));
      return { jobId: 'j1', status: 'verified', message: 'ok', applied: true, evidence: {} };
    });
    const outcome = await fake.commands.get(CLIENT_COMMANDS.generate)?.() as P.JobOutcome;
    assert.equal(outcome.status, 'verified');
    const [actions, run] = client().requests;
    assert.equal(actions.method, 'textDocument/codeAction');
    assert.deepEqual((actions.params as { range: unknown }).range,
      { start: { line: 3, character: 4 }, end: { line: 3, character: 4 } });
    assert.deepEqual(run.params, { command: P.GENERATE, arguments: [GENERATE_ARGS] });
    const [progress] = fake.progress;
    assert.deepEqual(progress.options, { location: vscode.ProgressLocation.Notification,
      title: 'verifix: generate double', cancellable: true });
    assert.equal(run.token, progress.source.token, 'the notification\'s token cancels the request');
    assert.deepEqual(progress.reports.map((r) => r.increment), [undefined, undefined, 40, 60]);
    assert.ok(progress.reports.some((r) => r.message === 'probe: greedy'));
    assert.match(fake.statusMessages.at(-1) ?? '', /generate double: verified, applied/);
  });

  test('an interim answer is shown read-only on request, and never applied', async () => {
    await start();
    editorAt(3, 4);
    fake.messagePick = (_text, actions) => (actions.includes('Show') ? 'Show' : undefined);
    const code = 'def double(x):\n    return x * 2\n';
    serveGenerate(client(), async () => {
      client().notify(P.JOB_UPDATE_NOTIFICATION, update({ phase: 'probe', percent: 5,
        message: 'plausible answer so far: passes 1/1 trusted checks; looking for agreement',
        interim: { status: 'plausible', code, message: 'passes 1/1 trusted checks; looking for agreement' } }));
      await new Promise((r) => setImmediate(r)); // the user clicks Show while the job runs
      await new Promise((r) => setImmediate(r));
      client().notify(P.JOB_UPDATE_NOTIFICATION, update({ state: 'finished', phase: 'done', percent: 100,
        status: 'verified', applied: true }));
      return { jobId: 'j1', status: 'verified', message: 'ok', applied: true, evidence: {} };
    });
    await fake.commands.get(CLIENT_COMMANDS.generate)?.();
    const offers = fake.messages.filter((m) => m.actions.includes('Show'));
    assert.equal(offers.length, 1);
    assert.match(offers[0].text, /generate double: a plausible answer so far \(passes 1\/1 trusted checks; looking for agreement\); only the final answer is applied/);
    assert.equal(fake.shown.length, 1);
    const [shown] = fake.shown;
    assert.equal(shown.uri.scheme, INTERIM_SCHEME, 'a read-only document, not the user\'s file');
    assert.equal(shown.text, `# plausible, not applied: passes 1/1 trusted checks; looking for agreement\n${code}`);
  });

  test('cancelling the notification cancels the request', async () => {
    await start();
    editorAt(3, 4);
    serveGenerate(client(), (token) => new Promise((_resolve, reject) => {
      token?.onCancellationRequested(() => reject(new Error('Request cancelled')));
    }));
    const running = fake.commands.get(CLIENT_COMMANDS.generate)?.() as Promise<unknown>;
    while (fake.progress.length === 0 || client().requests.length < 2) {
      await new Promise((r) => setImmediate(r));
    }
    fake.progress[0].source.cancel();
    assert.equal(await running, undefined);
    assert.ok(fake.progress[0].done);
    assert.match(fake.statusMessages.at(-1) ?? '', /cancelled/);
    assert.deepEqual(fake.messages.filter((m) => m.kind === 'error'), []);
  });

  test('code actions chosen in the editor run through the same job UI', async () => {
    await start();
    serveGenerate(client(), async () => ({ jobId: 'j1', status: 'plausible', message: 'm' }));
    const next = (command: string) => `next ${command}`;
    assert.equal(client().options.executeCommand(P.STATUS, [], next), `next ${P.STATUS}`);
    const outcome = await client().options.executeCommand(P.GENERATE, [GENERATE_ARGS], next) as P.JobOutcome;
    assert.equal(outcome.status, 'plausible');
    assert.equal(fake.progress.length, 1);
    assert.deepEqual(fake.messages, [], 'the server itself offers plausible results');
  });

  test('nothing at the cursor, or not a Python file', async () => {
    await start();
    client().respond = async () => [];
    editorAt(0, 0);
    assert.equal(await fake.commands.get(CLIENT_COMMANDS.repair)?.(), undefined);
    assert.match(fake.messages.at(-1)?.text ?? '', /no test at the cursor/);
    editorAt(0, 0, 'markdown');
    assert.equal(await fake.commands.get(CLIENT_COMMANDS.generate)?.(), undefined);
    assert.match(fake.messages.at(-1)?.text ?? '', /put the cursor in a Python function/);
    assert.equal(client().requests.length, 1);
  });

  test('errors before a job existed are shown; the server shows the others', async () => {
    await start();
    editorAt(3, 4);
    serveGenerate(client(), async () => ({ jobId: 'j1', status: 'error',
      message: 'double is not a function in mod.py' }));
    await fake.commands.get(CLIENT_COMMANDS.generate)?.();
    assert.match(fake.messages.at(-1)?.text ?? '', /double is not a function/);
  });

  test('settings changes: pushed to the server, or a restart for the interpreter', async () => {
    await start();
    fake.changeSettings({ 'verifix.pipeline.repairRounds': 0 });
    assert.deepEqual(client().notifications.at(-1), { method: 'workspace/didChangeConfiguration',
      params: { settings: { verifix: { pipeline: { repairRounds: 0 } } } } });
    fake.changeSettings({ 'verifix.pipeline.repairRounds': undefined });
    assert.deepEqual(client().notifications.at(-1)?.params,
      { settings: { verifix: { pipeline: { repairRounds: 2 } } } }, 'back to the default');
    const first = client();
    fake.changeSettings({ 'verifix.interpreter': PYTHON });
    await verifix.restart(); // queued after the restart the change started
    assert.ok(first.disposed);
    assert.equal(clients.length, 3);
    assert.ok(client().started && !client().disposed);
  });

  test('cancel: every job, or the one picked', async () => {
    await start();
    client().respond = async (_m, params) => ((params as { arguments: P.CancelArgs[] }).arguments[0].jobId
      ? ['b'] : ['a']);
    assert.deepEqual(await verifix.cancel(), ['a']);
    assert.deepEqual(client().requests.at(-1)?.params, { command: P.CANCEL, arguments: [{}] });
    client().notify(P.JOB_UPDATE_NOTIFICATION, update({ jobId: 'a' }));
    client().notify(P.JOB_UPDATE_NOTIFICATION, update({ jobId: 'b', kind: 'repair', state: 'queued' }));
    fake.quickPick = (items) => items[2];
    assert.deepEqual(await verifix.cancel(), ['b']);
    assert.deepEqual(client().requests.at(-1)?.params, { command: P.CANCEL, arguments: [{ jobId: 'b' }] });
    assert.match(fake.statusMessages.at(-1) ?? '', /cancelled 1 job$/);
  });

  test('commands while the server is down say why', async () => {
    await start({ 'verifix.interpreter': '/nope/python' });
    fake.messages.length = 0;
    editorAt(3, 4);
    assert.equal(await verifix.runJob(P.GENERATE, [GENERATE_ARGS]), undefined);
    assert.match(fake.messages[0].text, /cannot run verifix/);
  });
});

