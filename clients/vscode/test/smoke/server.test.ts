// The real Python server (python -m verifix serve, scripted engine) driven through
// vscode-jsonrpc the way the extension drives it: VS Code's capabilities, the extension's own
// settings, code-action and job-progress code. The interpreter: $VERIFIX_PYTHON_FOR_TESTS, else
// the repository's .venv.

import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe as suite, test } from 'node:test';
import {
  CancellationTokenSource, MessageConnection, ResponseError, StreamMessageReader,
  StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node';
import { pickCommand } from '../../src/actions';
import { Jobs, ProgressStep } from '../../src/jobs';
import * as P from '../../src/protocol';
import { ConfigurationLike, ServerSettings, serverKeys } from '../../src/settings';
import { connect, readToken } from '../../src/tcp';
import { freePort } from '../fake/loopback';

const ROOT = path.resolve(__dirname, '..', '..', '..'); // clients/vscode
const PYTHON = process.env.VERIFIX_PYTHON_FOR_TESTS || path.resolve(ROOT, '..', '..', '.venv',
  process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const packageJson: unknown = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

// The replies of tests/lsp/helpers.py: two agreeing implementations, inputs, plans.
const GOOD = '```python\ndef double(x):\n    return x * 2\n```';
const GOOD_2 = '```python\ndef double(x):\n    return x + x\n```';
const INPUTS = '```python\nassert double(0) == 0\nassert double(3) == 6\nassert double(-5) == -10\n```';
const PLANS = '1. Multiply the number by two using the * operator.\n2. Add the number to itself.';

function script(replies: string[], delayS = 0): object {
  return {
    delay_s: delayS, load_delay_s: 0, load_error: '',
    rules: [{ contains: 'different test calls', replies: [INPUTS] },
      { contains: 'different ways to implement', replies: [PLANS] }],
    default: replies,
  };
}

// Non-BMP text before the function: VS Code counts UTF-16 code units, as JS strings do.
const STUB = '# café ☕ 𝄞\n\n\ndef double(x):\n    """Return x times two, «×2» 𝄞.\n\n'
  + '    >>> double(2)\n    4\n    """\n\n\ndef other(y):\n    return y - 1\n';
const DONE = STUB.replace('    4\n    """\n', '    4\n    """\n    return x * 2\n');

// As VS Code 1.82 with vscode-languageclient 9 announces them (the parts verifix looks at).
const CAPABILITIES = {
  general: { positionEncodings: ['utf-16'] },
  window: { workDoneProgress: true, showMessage: { messageActionItem: { additionalPropertiesSupport: true } } },
  workspace: {
    applyEdit: true, configuration: true, workspaceFolders: true,
    didChangeConfiguration: { dynamicRegistration: true },
    executeCommand: { dynamicRegistration: true },
    didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true },
    workspaceEdit: {
      documentChanges: true, resourceOperations: ['create', 'rename', 'delete'],
      failureHandling: 'textOnlyTransactional', normalizesLineEndings: true,
      changeAnnotationSupport: { groupsOnLabel: true },
    },
  },
  textDocument: {
    synchronization: { dynamicRegistration: true, willSave: true, willSaveWaitUntil: true, didSave: true },
    publishDiagnostics: { relatedInformation: true, versionSupport: false, dataSupport: true },
    hover: { dynamicRegistration: true, contentFormat: ['markdown', 'plaintext'] },
    codeAction: {
      dynamicRegistration: true, isPreferredSupport: true, disabledSupport: true, dataSupport: true,
      honorsChangeAnnotations: false, resolveSupport: { properties: ['edit'] },
      codeActionLiteralSupport: { codeActionKind: { valueSet: ['', 'quickfix', 'refactor',
        'refactor.extract', 'refactor.inline', 'refactor.rewrite', 'source', 'source.organizeImports'] } },
    },
  },
};

interface TextEdit {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  newText: string;
  annotationId?: string;
}

interface ApplyEditParams {
  label?: string;
  edit: {
    changes?: unknown;
    documentChanges?: { textDocument: { uri: string; version: number }; edits: TextEdit[] }[];
    changeAnnotations?: Record<string, { label: string; needsConfirmation?: boolean; description?: string }>;
  };
}

interface Progress {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string; cancellable?: boolean; percentage?: number };
}

function offset(text: string, pos: { line: number; character: number }): number {
  const lines = text.split('\n');
  return lines.slice(0, pos.line).reduce((n, l) => n + l.length + 1, 0) + pos.character;
}

function applyEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => offset(text, b.range.start) - offset(text, a.range.start));
  for (const e of sorted) {
    text = text.slice(0, offset(text, e.range.start)) + e.newText + text.slice(offset(text, e.range.end));
  }
  return text;
}

/** The user's settings as VS Code would report them, for ServerSettings. */
function userConfig(user: Record<string, unknown>): ConfigurationLike {
  return {
    get: <T>(key: string) => user[key] as T,
    inspect: <T>(key: string) => ({ globalValue: user[key] as T | undefined }),
  };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

class Session {
  readonly statuses: P.ServerStatus[] = [];
  readonly updates: P.JobUpdate[] = [];
  readonly edits: ApplyEditParams[] = [];
  readonly progress: Progress[] = [];
  readonly created: (string | number)[] = [];
  readonly messages: string[] = [];
  readonly jobs = new Jobs();
  stderr = '';

  constructor(readonly connection: MessageConnection, readonly process: ChildProcess | undefined,
    readonly settings: ServerSettings, readonly user: Record<string, unknown>) {
    connection.onRequest('window/workDoneProgress/create', (p: { token: string }) => {
      this.created.push(p.token);
      return null;
    });
    connection.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) =>
      p.items.map((i) => (i.section === P.CONFIG_SECTION ? this.settings.section(userConfig(this.user)) : null)));
    connection.onRequest('workspace/applyEdit', (p: ApplyEditParams) => {
      this.edits.push(p);
      return { applied: true };
    });
    connection.onRequest('window/showMessageRequest', () => null);
    connection.onRequest('client/registerCapability', () => null);
    connection.onNotification('$/progress', (p: Progress) => this.progress.push(p));
    connection.onNotification(P.STATUS_NOTIFICATION, (p) => this.statuses.push(P.asStatus(p)));
    connection.onNotification(P.JOB_UPDATE_NOTIFICATION, (p) => this.updates.push(this.jobs.update(p)));
    connection.onNotification('window/showMessage', (p: { message: string }) => this.messages.push(p.message));
    connection.onNotification('window/logMessage', () => undefined);
    connection.onNotification('textDocument/publishDiagnostics', () => undefined);
    connection.listen();
  }

  async initialize(root: string, extra: Record<string, unknown> = {}):
    Promise<{ capabilities: Record<string, unknown> }> {
    const rootUri = pathToFileURL(root).href;
    const result = await this.connection.sendRequest('initialize', {
      processId: process.pid, clientInfo: { name: 'Visual Studio Code', version: '1.82.0' },
      rootUri, workspaceFolders: [{ uri: rootUri, name: path.basename(root) }],
      capabilities: CAPABILITIES,
      initializationOptions: { ...this.settings.section(userConfig(this.user)), ...extra },
    });
    await this.connection.sendNotification('initialized', {});
    return result as { capabilities: Record<string, unknown> };
  }

  ready(): Promise<void> {
    return waitFor('the model', () => this.statuses.some((s) => s.state === 'ready'), 60000);
  }

  open(file: string, text: string, version = 1): string {
    fs.writeFileSync(file, text);
    const uri = pathToFileURL(file).href;
    void this.connection.sendNotification('textDocument/didOpen',
      { textDocument: { uri, languageId: 'python', version, text } });
    return uri;
  }

  async close(): Promise<void> {
    try {
      await withTimeout(this.connection.sendRequest('shutdown'), 10000);
      await this.connection.sendNotification('exit');
    } finally {
      this.connection.dispose();
      const proc = this.process;
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        if (!await withTimeout(exited, 10000).then(() => true, () => false)) {
          proc.kill('SIGKILL');
          assert.fail('the server did not exit after shutdown/exit');
        }
      }
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

let tmp: string;

function project(name: string, engine: object): { root: string; env: NodeJS.ProcessEnv } {
  const root = path.join(tmp, name);
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'pyproject.toml'), `[project]\nname = "${name}"\n`);
  const spec = path.join(tmp, `${name}-engine.json`);
  fs.writeFileSync(spec, JSON.stringify(engine));
  return { root, env: { ...process.env, [P.TEST_ENGINE_ENV]: spec } };
}

/** Runs `body` against a server of its own; the server's stderr is shown when `body` fails. */
async function withStdioSession(root: string, env: NodeJS.ProcessEnv, user: Record<string, unknown>,
  body: (s: Session) => Promise<void>): Promise<void> {
  // The command line languageClient.ts gives vscode-languageclient.
  const proc = spawn(PYTHON, ['-m', 'verifix', 'serve'], { cwd: root, env, stdio: 'pipe' });
  const connection = createMessageConnection(new StreamMessageReader(proc.stdout),
    new StreamMessageWriter(proc.stdin));
  const s = new Session(connection, proc, new ServerSettings(serverKeys(packageJson)), user);
  proc.stderr.on('data', (d: Buffer) => { s.stderr += d.toString(); });
  try {
    await body(s);
  } catch (err) {
    console.error(s.stderr);
    throw err;
  } finally {
    await s.close();
  }
}

async function generate(s: Session, uri: string, steps: ProgressStep[], token = new CancellationTokenSource().token):
Promise<P.JobOutcome> {
  // As the palette command does: the code action at the cursor, then its command.
  const actions = await s.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri }, range: { start: { line: 5, character: 4 }, end: { line: 5, character: 4 } },
    context: { diagnostics: [], triggerKind: 1 },
  });
  const cmd = pickCommand(actions, P.GENERATE);
  assert.ok(cmd, `no ${P.GENERATE} in ${JSON.stringify(actions)}`);
  assert.deepEqual(cmd.arguments, [{ uri, qualname: 'double' }]);
  const watch = s.jobs.watch('generate', 'double', (step) => steps.push(step));
  try {
    return P.asOutcome(await s.connection.sendRequest('workspace/executeCommand',
      { command: cmd.command, arguments: cmd.arguments }, token));
  } finally {
    watch.dispose();
  }
}

suite('smoke: the real server', { timeout: 180000 }, () => {
  before(() => {
    assert.ok(!PYTHON.includes(path.sep) || fs.existsSync(PYTHON),
      `no Python at ${PYTHON}: set VERIFIX_PYTHON_FOR_TESTS to a Python with verifix installed`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-vscode-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('initialize, code actions, a verified job with progress, its annotated edit', async () => {
    const { root, env } = project('generate', script([GOOD, GOOD_2]));
    await withStdioSession(root, env, { 'pipeline.timeBudget': 120 }, async (s) => {
      const init = await s.initialize(root);
      const provider = init.capabilities.executeCommandProvider as { commands: string[] };
      assert.deepEqual([...provider.commands].sort(), [...P.COMMANDS].sort());
      assert.ok(init.capabilities.codeActionProvider);
      await s.ready();
      // The extension's settings object reached the server (initializationOptions, then
      // workspace/configuration) and was read as nested camelCase keys.
      const settings = s.statuses.at(-1)?.settings as { pipeline: { timeBudget: number } };
      assert.equal(settings.pipeline.timeBudget, 120);
      assert.deepEqual(s.messages, [], 'no settings errors');

      const uri = s.open(path.join(root, 'mod.py'), STUB, 7);
      const steps: ProgressStep[] = [];
      const outcome = await generate(s, uri, steps);
      assert.equal(outcome.status, 'verified', JSON.stringify(outcome));
      assert.ok(outcome.applied, outcome.reason);

      // verifix/jobUpdate fed the notification: phases, increments up to 100.
      const ours = s.updates.filter((u) => u.jobId === outcome.jobId);
      assert.equal(ours[0].state, 'queued');
      assert.equal(ours.at(-1)?.state, 'finished');
      assert.equal(ours.at(-1)?.status, 'verified');
      assert.ok(steps.some((st) => st.message.startsWith('probe')), JSON.stringify(steps));
      assert.equal(steps.reduce((n, st) => n + (st.increment ?? 0), 0), 100);

      // Server-created work-done progress, cancellable, begin .. end.
      const token = s.progress.find((p) => p.value.kind === 'begin' && p.value.title === 'verifix: generate double')?.token;
      assert.ok(token !== undefined && s.created.includes(token));
      const values = s.progress.filter((p) => p.token === token).map((p) => p.value);
      assert.equal(values[0].cancellable, true);
      assert.ok(values.some((v) => v.kind === 'report'));
      assert.equal(values.at(-1)?.kind, 'end');
      assert.match(values.at(-1)?.message ?? '', /verified/);

      // The edit: versioned documentChanges, only the lines that change, every edit annotated.
      assert.equal(s.edits.length, 1);
      const { edit } = s.edits[0];
      assert.equal(edit.changes, undefined);
      assert.equal(edit.documentChanges?.length, 1);
      const change = edit.documentChanges[0];
      assert.deepEqual(change.textDocument, { uri, version: 7 });
      assert.ok(change.edits.every((e) => e.annotationId === P.ANNOTATION_ID));
      const annotation = edit.changeAnnotations?.[P.ANNOTATION_ID];
      assert.match(annotation?.label ?? '', /^verifix: verified by \d+\/\d+ checks$/);
      assert.equal(annotation?.needsConfirmation, false); // verified: applied in one step
      assert.equal(applyEdits(STUB, change.edits), DONE);

      // Cancel with no job id (the extension's Cancel Running Job): nothing left to cancel.
      assert.deepEqual(await s.connection.sendRequest('workspace/executeCommand',
        { command: P.CANCEL, arguments: [{}] }), []);

      // didChangeConfiguration as the extension sends it.
      const seen = s.statuses.length;
      await s.connection.sendNotification('workspace/didChangeConfiguration',
        { settings: { [P.CONFIG_SECTION]: { pipeline: { timeBudget: 150 } } } });
      await waitFor('new settings', () => s.statuses.slice(seen).some((st) =>
        (st.settings as { pipeline: { timeBudget: number } }).pipeline.timeBudget === 150), 10000);
    });
  });

  test('cancelling the request ($/cancelRequest) stops the job', async () => {
    const slow = `${GOOD} ${' pad'.repeat(400)}`;
    const { root, env } = project('cancel', script([slow, slow], 0.05));
    await withStdioSession(root, env, {}, async (s) => {
      await s.initialize(root);
      await s.ready();
      const uri = s.open(path.join(root, 'mod.py'), STUB);
      const source = new CancellationTokenSource();
      const steps: ProgressStep[] = [];
      const request = generate(s, uri, steps, source.token).then((o) => o, (e: unknown) => e);
      await waitFor('the job to run', () => s.updates.some((u) => u.state === 'running' && u.phase === 'probe'), 30000);
      const t0 = Date.now();
      source.cancel();
      const settled = await request;
      assert.ok(Date.now() - t0 < 10000, 'the job stopped within seconds');
      if (settled instanceof ResponseError) {
        assert.equal(settled.code, -32800, settled.message); // RequestCancelled
      } else {
        assert.equal((settled as P.JobOutcome).message, 'cancelled', JSON.stringify(settled));
      }
      await waitFor('the cancelled job update', () => s.updates.some((u) => u.state === 'cancelled'), 10000);
      assert.deepEqual(s.edits, []);
    });
  });

  for (const kind of ['tcp', 'socket'] as const) {
    test(`a shared server (verifix serve --${kind})`, async () => {
      const { root, env } = project(kind, script([GOOD, GOOD_2]));
      const run = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-run-'));
      env.XDG_RUNTIME_DIR = run; // the server's token file goes here, and readToken looks here
      const port = await freePort();
      const sock = path.join(run, 'verifix.sock');
      const proc = spawn(PYTHON, ['-m', 'verifix', 'serve',
        ...(kind === 'tcp' ? ['--tcp', `127.0.0.1:${port}`] : ['--socket', sock])],
      { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      try {
        // The extension's own connect() and readToken(), retried while the server starts.
        let socket: net.Socket | undefined;
        let token = '';
        const deadline = Date.now() + 30000;
        while (!socket) {
          socket = await (async () => {
            if (kind === 'tcp') {
              token = readToken(port, '', env);
            }
            return connect(kind === 'tcp' ? { host: '127.0.0.1', port } : { path: sock }, 2000);
          })().catch((err: Error) => {
            if (Date.now() > deadline || proc.exitCode !== null) {
              throw new Error(`${err.message}\n${stderr}`);
            }
            return new Promise<undefined>((r) => setTimeout(() => r(undefined), 100));
          });
        }
        const s = new Session(createMessageConnection(new StreamMessageReader(socket),
          new StreamMessageWriter(socket)), undefined, new ServerSettings(serverKeys(packageJson)), {});
        await s.initialize(root, kind === 'tcp' ? { [P.TOKEN_OPTION]: token } : {});
        await s.ready();
        const uri = s.open(path.join(root, 'mod.py'), STUB);
        const actions = await s.connection.sendRequest('textDocument/codeAction', {
          textDocument: { uri }, range: { start: { line: 3, character: 4 }, end: { line: 3, character: 4 } },
          context: { diagnostics: [], triggerKind: 1 },
        });
        assert.ok(pickCommand(actions, P.GENERATE));
        await s.close();
        socket.destroy();
        assert.equal(proc.exitCode, null, 'one window leaving does not stop the shared server');
      } finally {
        proc.kill('SIGTERM');
        if (proc.exitCode === null) {
          await new Promise((r) => proc.once('exit', r));
        }
      }
      assert.ok(!fs.existsSync(sock) && !fs.existsSync(path.join(run, 'verifix', `tcp-${port}.token`)),
        'the server takes its socket and token with it');
      fs.rmSync(run, { recursive: true });
    });
  }
});
