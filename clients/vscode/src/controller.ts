// The extension's behaviour, on top of a language client it is handed (languageClient.ts makes
// the real one; the unit tests hand it a fake), so it is testable without VS Code.

import * as vscode from 'vscode';
import { pickCommand, qualnameOfArgs } from './actions';
import { Found, NotFound, Probe, findInterpreter } from './interpreter';
import { Jobs } from './jobs';
import * as P from './protocol';
import { ServerSettings } from './settings';
import { Phase, Problem, present } from './status';
import { expand } from './interpreter';
import { TcpAddress, formatTcp, parseTcp, readToken } from './tcp';

/** Palette ids: vscode-languageclient registers the server's ids (verifix.generate, ...) itself. */
export const CLIENT_COMMANDS = {
  generate: 'verifix.client.generate',
  repair: 'verifix.client.repair',
  cancel: 'verifix.client.cancel',
  showLog: 'verifix.client.showLog',
  restart: 'verifix.client.restart',
} as const;

export const BUSY_CONTEXT = 'verifix.busy';

/** Read-only documents that show a job's interim answer (never the user's file). */
export const INTERIM_SCHEME = 'verifix-interim';
const MAX_INTERIMS = 20;

const JOB_COMMANDS: readonly string[] = [P.GENERATE, P.REPAIR, P.APPLY_FIX];

export type ServerSpec =
  | { kind: 'stdio'; python: string; cwd?: string }
  | { kind: 'tcp'; address: TcpAddress; token: string }
  | { kind: 'socket'; path: string };

export type ExecuteCommandNext = (command: string, args: unknown[]) => unknown;

export interface ClientOptions {
  /** Called at each (re)start of the server, so a restart sends the current settings. */
  initializationOptions: () => Record<string, unknown>;
  /** The answer to workspace/configuration for section "verifix". */
  configuration(): Record<string, unknown>;
  /** Runs the server's commands when VS Code invokes them (code actions). */
  executeCommand(command: string, args: unknown[], next: ExecuteCommandNext): unknown;
  outputChannel: vscode.OutputChannel;
}

/** The slice of vscode-languageclient's LanguageClient the extension uses. */
export interface ClientLike {
  start(): Promise<void>;
  dispose(timeoutMs?: number): Promise<void>;
  sendRequest<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R>;
  sendNotification(method: string, params?: unknown): Promise<void>;
  onNotification(method: string, handler: (params: unknown) => void): vscode.Disposable;
  onRunningChange(listener: (running: boolean) => void): vscode.Disposable;
  readonly code2ProtocolConverter: {
    asUri(uri: vscode.Uri): string;
    asRange(range: vscode.Range): unknown;
    asDiagnostics(diagnostics: vscode.Diagnostic[]): Promise<unknown[]>;
  };
}

export interface Deps {
  createClient(spec: ServerSpec, options: ClientOptions): ClientLike;
  probe: Probe;
  pythonExtension(resource?: vscode.Uri): Promise<string | undefined>;
  /** Fires when the Python extension's active interpreter changes (if it is installed). */
  onPythonInterpreterChange?(listener: () => void): vscode.Disposable | undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Verifix implements vscode.Disposable {
  readonly log: vscode.OutputChannel;
  readonly jobs = new Jobs();
  private client: ClientLike | undefined;
  private phase: Phase = 'stopped';
  private failure: Problem | undefined;
  private server: P.ServerStatus | undefined;
  private connection = '';
  private source: Found['source'] | undefined;
  private settings = new ServerSettings([]);
  /** The Python extension's interpreter: the project's tests run with it unless verifix.python
   * names another. */
  private projectPython: string | undefined;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private lifecycle: Promise<void> = Promise.resolve();
  private busy = false;
  /** Interim answers by the path of their read-only document. */
  private readonly interims = new Map<string, string>();

  constructor(private readonly keys: readonly string[], private readonly deps: Deps) {
    this.log = vscode.window.createOutputChannel('verifix');
    this.statusItem = vscode.window.createStatusBarItem('verifix.status',
      vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = 'verifix';
    this.statusItem.command = CLIENT_COMMANDS.showLog;
    this.disposables.push(this.log, this.statusItem);
  }

  activate(context: vscode.ExtensionContext): Promise<void> {
    const register = (id: string, run: () => unknown): void => {
      this.disposables.push(vscode.commands.registerCommand(id, run));
    };
    register(CLIENT_COMMANDS.generate, () => this.atCursor(P.GENERATE));
    register(CLIENT_COMMANDS.repair, () => this.atCursor(P.REPAIR));
    register(CLIENT_COMMANDS.cancel, () => this.cancel());
    register(CLIENT_COMMANDS.showLog, () => this.log.show(true));
    register(CLIENT_COMMANDS.restart, () => this.restart());
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((e) => this.configChanged(e)));
    this.disposables.push(vscode.workspace.registerTextDocumentContentProvider(INTERIM_SCHEME, {
      provideTextDocumentContent: (uri) => this.interims.get(uri.path) ?? '',
    }));
    const python = this.deps.onPythonInterpreterChange?.(() => {
      if (this.source === 'Python extension' || this.phase === 'failed') {
        void this.restart();
        return;
      }
      void this.refreshProjectPython().then(() => {
        void this.running()?.sendNotification('workspace/didChangeConfiguration',
          { settings: { [P.CONFIG_SECTION]: this.section() } });
      });
    });
    if (python) {
      this.disposables.push(python);
    }
    context.subscriptions.push(this);
    this.statusItem.show();
    return this.restart();
  }

  dispose(): Promise<void> {
    const own = this.disposables.splice(0);
    // The log and the status item outlive the client's last words.
    return this.queue(() => this.stop()).finally(() => {
      vscode.Disposable.from(...own).dispose();
    });
  }

  restart(): Promise<void> {
    return this.queue(async () => {
      await this.stop();
      await this.start();
    });
  }

  // Starts and stops one after the other, whoever asks.
  private queue(step: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.then(step, step);
    return this.lifecycle;
  }

  private config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(P.CONFIG_SECTION);
  }

  private section(): Record<string, unknown> {
    const section = this.settings.section(this.config());
    if (section.python === undefined && this.projectPython) {
      section.python = this.projectPython;
    }
    return section;
  }

  private async refreshProjectPython(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    this.projectPython = await this.deps.pythonExtension(folder?.uri);
  }

  private async resolve(): Promise<ServerSpec | Problem> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const socket = (this.config().get<string>('server.socket') ?? '').trim();
    if (socket) {
      const path = expand(socket, folder?.uri.fsPath);
      this.connection = `shared server ${path}`;
      return { kind: 'socket', path };
    }
    const tcp = (this.config().get<string>('server.tcp') ?? '').trim();
    if (tcp) {
      try {
        const address = parseTcp(tcp);
        const token = readToken(address.port,
          expand((this.config().get<string>('server.tokenFile') ?? '').trim(), folder?.uri.fsPath));
        this.connection = `shared server ${formatTcp(address)}`;
        return { kind: 'tcp', address, token };
      } catch (err) {
        return { message: errorText(err),
          remedy: 'start the shared server on this machine, or correct verifix.server.tcp' };
      }
    }
    const found: Found | NotFound = await findInterpreter({
      setting: this.config().get<string>('interpreter') ?? '',
      workspaceFolder: folder?.uri.fsPath,
      pythonExtension: () => this.deps.pythonExtension(folder?.uri),
      probe: this.deps.probe,
    });
    if ('message' in found) {
      return found;
    }
    this.source = found.source;
    this.connection = `${found.python} (from ${found.source}), verifix ${found.version}`;
    return { kind: 'stdio', python: found.python, cwd: folder?.uri.fsPath };
  }

  private async start(): Promise<void> {
    this.phase = 'starting';
    this.failure = undefined;
    this.server = undefined;
    this.source = undefined;
    this.connection = '';
    this.render();
    const spec = await this.resolve();
    if (!('kind' in spec)) {
      const shared = Boolean(this.config().get<string>('server.tcp')?.trim()
        || this.config().get<string>('server.socket')?.trim());
      this.fail(spec, shared ? ['Open Settings', 'Restart Server']
        : ['Select Interpreter', 'Open Settings', 'Restart Server']);
      return;
    }
    this.log.appendLine(`verifix: starting with ${this.connection}`);
    this.settings = new ServerSettings(this.keys); // a new server has no settings yet
    await this.refreshProjectPython();
    const client = this.deps.createClient(spec, {
      // The token opens the shared server's door; it is not a setting.
      initializationOptions: () => (spec.kind === 'tcp'
        ? { ...this.section(), [P.TOKEN_OPTION]: spec.token } : this.section()),
      configuration: () => this.section(),
      executeCommand: (command, args, next) => JOB_COMMANDS.includes(command)
        ? this.runJob(command, args) : next(command, args),
      outputChannel: this.log,
    });
    this.client = client;
    client.onNotification(P.STATUS_NOTIFICATION, (raw) => {
      this.server = P.asStatus(raw);
      this.jobs.snapshot(this.server.jobs);
      this.render();
    });
    client.onNotification(P.JOB_UPDATE_NOTIFICATION, (raw) => {
      this.jobs.update(raw);
      this.render();
    });
    client.onRunningChange((running) => {
      if (client === this.client && this.phase !== 'failed') {
        this.phase = running ? 'running' : 'stopped';
        if (!running) {
          this.server = undefined;
          this.jobs.clear();
        }
        this.render();
      }
    });
    try {
      await client.start();
      if (client === this.client) {
        this.phase = 'running';
      }
    } catch (err) {
      if (client === this.client) {
        // vscode-languageclient has already shown its own notification.
        this.fail({
          message: `the server did not start: ${errorText(err)}`,
          remedy: 'see "verifix: Show Log"; run `verifix doctor` in a terminal',
        }, []);
      }
    }
    this.render();
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.server = undefined;
    this.jobs.clear();
    this.phase = 'stopped';
    this.render();
    if (client) {
      try {
        await client.dispose(3000);
      } catch (err) {
        this.log.appendLine(`verifix: stopping the server: ${errorText(err)}`);
      }
    }
  }

  private fail(problem: Problem, actions: string[]): void {
    this.phase = 'failed';
    this.failure = problem;
    this.log.appendLine(`verifix: ${problem.message}. ${problem.remedy}`);
    this.render();
    if (actions.length === 0) {
      return;
    }
    void vscode.window.showErrorMessage(`verifix: ${problem.message}`, ...actions).then((pick) => {
      if (pick === 'Select Interpreter') {
        void vscode.commands.executeCommand('python.setInterpreter');
      } else if (pick === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'verifix.');
      } else if (pick === 'Restart Server') {
        void this.restart();
      }
    });
  }

  private configChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(P.CONFIG_SECTION)) {
      return;
    }
    if (e.affectsConfiguration('verifix.interpreter') || e.affectsConfiguration('verifix.server')) {
      void this.restart();
      return;
    }
    const client = this.running();
    if (client) {
      void client.sendNotification('workspace/didChangeConfiguration',
        { settings: { [P.CONFIG_SECTION]: this.section() } });
    }
  }

  private running(): ClientLike | undefined {
    return this.phase === 'running' ? this.client : undefined;
  }

  private render(): void {
    const job = this.jobs.current();
    const view = present({
      phase: this.phase, connection: this.connection, failure: this.failure,
      server: this.server, job, jobs: this.jobs.active.size,
    });
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor = view.severity === 'none' ? undefined
      : new vscode.ThemeColor(`statusBarItem.${view.severity}Background`);
    const busy = job !== undefined;
    if (busy !== this.busy) {
      this.busy = busy;
      void vscode.commands.executeCommand('setContext', BUSY_CONTEXT, busy);
    }
  }

  /** The running client for a user's command; without one, a warning that says why. */
  private clientOrWarn(): ClientLike | undefined {
    const client = this.running();
    if (!client) {
      const why = this.failure ? `${this.failure.message}. ${this.failure.remedy}`
        : 'the server is not running (yet)';
      void vscode.window.showWarningMessage(`verifix: ${why}`);
    }
    return client;
  }

  /** Palette Generate / Repair: the server's code action at the cursor. */
  async atCursor(command: typeof P.GENERATE | typeof P.REPAIR): Promise<P.JobOutcome | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python') {
      void vscode.window.showInformationMessage(
        'verifix: put the cursor in a Python function (or a test) first');
      return undefined;
    }
    const client = this.clientOrWarn();
    if (!client) {
      return undefined;
    }
    const doc = editor.document;
    const pos = editor.selection.active;
    const ours = vscode.languages.getDiagnostics(doc.uri)
      .filter((d) => d.source === P.DIAGNOSTIC_SOURCE && d.range.contains(pos));
    const c2p = client.code2ProtocolConverter;
    const items = await client.sendRequest('textDocument/codeAction', {
      textDocument: { uri: c2p.asUri(doc.uri) },
      range: c2p.asRange(new vscode.Range(pos, pos)),
      context: { diagnostics: await c2p.asDiagnostics(ours), triggerKind: 1 },
    });
    const cmd = pickCommand(items, command);
    if (!cmd) {
      void vscode.window.showInformationMessage(command === P.GENERATE
        ? 'verifix: no function to implement at the cursor (the cursor on a test: use '
          + '"verifix: Repair Failing Test")'
        : 'verifix: no test at the cursor: put it in a test function or on a failing test');
      return undefined;
    }
    return this.runJob(cmd.command, cmd.arguments ?? []);
  }

  /** A user-started job: a cancellable notification fed by verifix/jobUpdate. Cancelling it
   * cancels the request ($/cancelRequest), which stops the job on the server. */
  async runJob(command: string, args: unknown[]): Promise<P.JobOutcome | undefined> {
    const client = this.clientOrWarn();
    if (!client) {
      return undefined;
    }
    const qualname = qualnameOfArgs(args) ?? '';
    const kind = command === P.GENERATE ? 'generate' : command === P.REPAIR ? 'repair' : '';
    const title = kind ? `verifix: ${kind} ${qualname}` : 'verifix: applying the verified fix';
    return vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification, title, cancellable: true,
    }, async (progress, token) => {
      const watch = kind ? this.jobs.watch(kind, qualname, (step) => progress.report(step),
        (u) => this.offer(title, u)) : undefined;
      progress.report({ message: 'starting' });
      try {
        const raw = await client.sendRequest<unknown>('workspace/executeCommand',
          { command, arguments: args }, token);
        const outcome = P.asOutcome(raw);
        this.tell(title, outcome, token.isCancellationRequested);
        return outcome;
      } catch (err) {
        if (token.isCancellationRequested) {
          vscode.window.setStatusBarMessage(`${title}: cancelled`, 5000);
        } else {
          void vscode.window.showErrorMessage(`${title} failed: ${errorText(err)}`);
        }
        return undefined;
      } finally {
        watch?.dispose();
      }
    });
  }

  /** The job has an answer before its end: show it on request, in a read-only document. The
   * job's final answer is the only one ever applied. */
  private offer(title: string, u: P.JobUpdate): void {
    const interim = u.interim;
    if (!interim) {
      return;
    }
    const path = `/${u.jobId}/${P.qualnameOf(u.target)} (so far).py`;
    this.interims.set(path, `# ${interim.status}, not applied: ${interim.message}\n${interim.code}`);
    for (const old of [...this.interims.keys()].slice(0, -MAX_INTERIMS)) {
      this.interims.delete(old); // a long day's jobs: only the recent answers stay viewable
    }
    this.log.appendLine(`${title}: ${interim.status} answer so far (${interim.message}):\n${interim.code}`);
    void vscode.window.showInformationMessage(
      `${title}: a ${interim.status} answer so far (${interim.message}); `
        + 'only the final answer is applied', 'Show').then(async (pick) => {
      if (pick === 'Show') {
        const doc = await vscode.workspace.openTextDocument(
          vscode.Uri.from({ scheme: INTERIM_SCHEME, path }));
        await vscode.window.showTextDocument(doc, { preview: true,
          viewColumn: vscode.ViewColumn.Beside });
      }
    });
  }

  private tell(title: string, outcome: P.JobOutcome, cancelled: boolean): void {
    if (cancelled || (outcome.status === 'error' && outcome.message === 'cancelled')) {
      vscode.window.setStatusBarMessage(`${title}: cancelled`, 5000);
    } else if (outcome.applied) {
      vscode.window.setStatusBarMessage(`$(check) ${title}: ${outcome.status}, applied`, 8000);
    } else if (outcome.status === 'verified' && outcome.reason) {
      void vscode.window.showWarningMessage(`${title}: verified but not applied: ${outcome.reason}`);
    } else if (outcome.status === 'error' && outcome.evidence === null) {
      // Errors of jobs that ran are shown by the server; these ended before a job existed.
      void vscode.window.showWarningMessage(`${title}: ${outcome.message}`);
    }
    // plausible / unverified: the server asks whether to apply it anyway.
  }

  async cancel(): Promise<string[]> {
    const client = this.clientOrWarn();
    if (!client) {
      return [];
    }
    const active = [...this.jobs.active.values()];
    let args: P.CancelArgs = {};
    if (active.length > 1) {
      const all = { label: 'All jobs', jobId: undefined as string | undefined };
      const pick = await vscode.window.showQuickPick([all, ...active.map((j) => ({
        label: `${j.kind} ${P.qualnameOf(j.target)}`, description: j.state, jobId: j.jobId,
      }))], { placeHolder: 'Cancel which verifix job?' });
      if (!pick) {
        return [];
      }
      args = pick.jobId ? { jobId: pick.jobId } : {};
    }
    const ids = await client.sendRequest<string[]>('workspace/executeCommand',
      { command: P.CANCEL, arguments: [args] });
    const n = ids?.length ?? 0;
    vscode.window.setStatusBarMessage(
      n ? `verifix: cancelled ${n} job${n === 1 ? '' : 's'}` : 'verifix: no job to cancel', 5000);
    return ids ?? [];
  }
}
