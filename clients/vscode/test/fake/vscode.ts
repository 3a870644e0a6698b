// A fake of the parts of the `vscode` module the extension uses, resolved in place of `vscode`
// by register.ts (Node 20 has no mock.module). It records what the extension does in `fake`.

import * as fs from 'fs';
import * as path from 'path';

type Listener<T> = (e: T) => unknown;

export const version = '1.82.0'; // engines.vscode; vscode-languageclient checks it

export class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((d) => d.dispose()));
  }

  constructor(private readonly fn: () => unknown) {}

  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];

  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };

  fire(e: T): void {
    [...this.listeners].forEach((l) => l(e));
  }

  dispose(): void {
    this.listeners = [];
  }
}

export class Position {
  constructor(readonly line: number, readonly character: number) {}

  isBefore(o: Position): boolean {
    return this.line < o.line || (this.line === o.line && this.character < o.character);
  }
}

export class Range {
  constructor(readonly start: Position, readonly end: Position) {}

  contains(p: Position): boolean {
    return !p.isBefore(this.start) && !this.end.isBefore(p);
  }
}

export class Selection extends Range {
  constructor(readonly anchor: Position, readonly active: Position) {
    super(anchor, active);
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly fsPath: string) {}

  static file(p: string): Uri {
    return new Uri('file', p);
  }

  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }

  get path(): string {
    return this.fsPath;
  }

  toString(): string {
    return `${this.scheme}://${this.fsPath}`;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class MarkdownString {
  constructor(public value = '') {}
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  private readonly state = { cancelled: false };
  readonly token: {
    readonly isCancellationRequested: boolean;
    onCancellationRequested: EventEmitter<void>['event'];
  };

  constructor() {
    const state = this.state;
    this.token = {
      get isCancellationRequested() {
        return state.cancelled;
      },
      onCancellationRequested: this.emitter.event,
    };
  }

  cancel(): void {
    if (!this.state.cancelled) {
      this.state.cancelled = true;
      this.emitter.fire();
    }
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export enum ProgressLocation { SourceControl = 1, Window = 10, Notification = 15 }
export enum ViewColumn { Active = -1, Beside = -2, One = 1, Two = 2 }
export enum StatusBarAlignment { Left = 1, Right = 2 }
export enum DiagnosticSeverity { Error = 0, Warning = 1, Information = 2, Hint = 3 }

export interface FakeProgress {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  source: CancellationTokenSource;
  done: boolean;
}

export interface FakeStatusItem {
  id: string;
  alignment: StatusBarAlignment;
  name?: string;
  text: string;
  tooltip?: string;
  command?: string;
  backgroundColor?: ThemeColor;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

interface FakeDocument {
  uri: Uri;
  languageId: string;
}

const packageJson = JSON.parse(fs.readFileSync(
  path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default?: unknown }> }[] };
  };

export function contributedDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const section of packageJson.contributes.configuration) {
    for (const [key, spec] of Object.entries(section.properties)) {
      out[key] = spec.default;
    }
  }
  return out;
}

function initial() {
  return {
    /** User settings, full keys ("verifix.pipeline.candidates"). */
    settings: {} as Record<string, unknown>,
    commands: new Map<string, (...args: unknown[]) => unknown>(),
    executed: [] as { id: string; args: unknown[] }[],
    messages: [] as { kind: 'info' | 'warning' | 'error'; text: string; actions: string[] }[],
    statusMessages: [] as string[],
    progress: [] as FakeProgress[],
    statusItems: [] as FakeStatusItem[],
    output: [] as string[],
    diagnostics: [] as { source?: string; range: Range; message: string }[],
    activeTextEditor: undefined as undefined | { document: FakeDocument; selection: Selection },
    extensions: {} as Record<string, unknown>,
    quickPick: (items: unknown[]): unknown => items[0],
    /** The button the user clicks in a message (none: the message is dismissed). */
    messagePick: (_text: string, _actions: string[]): string | undefined => undefined,
    contentProviders: new Map<string, { provideTextDocumentContent(uri: Uri): string }>(),
    /** Documents shown in an editor: their uri and text. */
    shown: [] as { uri: Uri; text: string; options: unknown }[],
    workspaceFolders: undefined as undefined | { uri: Uri; name: string; index: number }[],
    configChanged: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
  };
}

export const fake = {
  ...initial(),
  reset(): void {
    Object.assign(fake, initial());
  },
  /** As VS Code does after the user edits settings.json. */
  changeSettings(values: Record<string, unknown>): void {
    Object.assign(fake.settings, values);
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) {
        delete fake.settings[k];
      }
    }
    const keys = Object.keys(values);
    fake.configChanged.fire({
      affectsConfiguration: (s: string) => keys.some((k) => k === s || k.startsWith(`${s}.`)),
    });
  },
};

function configuration(section: string) {
  const full = (key: string) => (section ? `${section}.${key}` : key);
  return {
    get<T>(key: string, fallback?: T): T | undefined {
      const k = full(key);
      if (k in fake.settings) {
        return fake.settings[k] as T;
      }
      const d = contributedDefaults()[k];
      return (d === undefined ? fallback : d) as T | undefined;
    },
    has(key: string): boolean {
      return full(key) in contributedDefaults();
    },
    inspect<T>(key: string) {
      const k = full(key);
      return {
        key: k,
        defaultValue: contributedDefaults()[k] as T | undefined,
        globalValue: fake.settings[k] as T | undefined,
        workspaceValue: undefined,
        workspaceFolderValue: undefined,
      };
    },
  };
}

function message(kind: 'info' | 'warning' | 'error') {
  return (text: string, ...actions: string[]): Promise<string | undefined> => {
    fake.messages.push({ kind, text, actions });
    return Promise.resolve(fake.messagePick(text, actions));
  };
}

export const window = {
  get activeTextEditor() {
    return fake.activeTextEditor;
  },
  createOutputChannel(name: string) {
    return {
      name,
      append: (s: string) => fake.output.push(s),
      appendLine: (s: string) => fake.output.push(s),
      show: () => undefined,
      dispose: () => undefined,
    };
  },
  createStatusBarItem(id: string, alignment: StatusBarAlignment): FakeStatusItem {
    const item: FakeStatusItem = {
      id, alignment, text: '', visible: false,
      show: () => { item.visible = true; },
      hide: () => { item.visible = false; },
      dispose: () => { item.visible = false; },
    };
    fake.statusItems.push(item);
    return item;
  },
  showInformationMessage: message('info'),
  showTextDocument(doc: { uri: Uri; getText(): string }, options: unknown): Promise<unknown> {
    fake.shown.push({ uri: doc.uri, text: doc.getText(), options });
    return Promise.resolve(undefined);
  },
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  setStatusBarMessage(text: string): Disposable {
    fake.statusMessages.push(text);
    return new Disposable(() => undefined);
  },
  showQuickPick(items: unknown[]): Promise<unknown> {
    return Promise.resolve(fake.quickPick(items));
  },
  async withProgress<R>(options: FakeProgress['options'],
    task: (progress: { report(v: object): void }, token: CancellationTokenSource['token']) => Promise<R>): Promise<R> {
    const record: FakeProgress = { options, reports: [], source: new CancellationTokenSource(), done: false };
    fake.progress.push(record);
    try {
      return await task({ report: (v) => record.reports.push(v) }, record.source.token);
    } finally {
      record.done = true;
    }
  },
};

export const workspace = {
  getConfiguration: configuration,
  get workspaceFolders() {
    return fake.workspaceFolders;
  },
  onDidChangeConfiguration: (listener: Listener<{ affectsConfiguration(s: string): boolean }>) =>
    fake.configChanged.event(listener),
  registerTextDocumentContentProvider(scheme: string,
    provider: { provideTextDocumentContent(uri: Uri): string }): Disposable {
    fake.contentProviders.set(scheme, provider);
    return new Disposable(() => fake.contentProviders.delete(scheme));
  },
  openTextDocument(uri: Uri): Promise<{ uri: Uri; getText(): string }> {
    const provider = fake.contentProviders.get(uri.scheme);
    if (!provider) {
      return Promise.reject(new Error(`no content provider for ${uri.scheme}`));
    }
    const text = provider.provideTextDocumentContent(uri);
    return Promise.resolve({ uri, getText: () => text });
  },
};

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown): Disposable {
    if (fake.commands.has(id)) {
      throw new Error(`command '${id}' already exists`); // as VS Code does
    }
    fake.commands.set(id, fn);
    return new Disposable(() => fake.commands.delete(id));
  },
  executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    fake.executed.push({ id, args });
    const fn = fake.commands.get(id);
    return Promise.resolve(fn ? fn(...args) : undefined);
  },
};

export const languages = {
  getDiagnostics(): unknown[] {
    return fake.diagnostics;
  },
};

export const extensions = {
  getExtension(id: string): unknown {
    return fake.extensions[id];
  },
};

// vscode-languageclient subclasses vscode classes when it loads and subscribes to events when
// a client is made: any other class is a plain class here, any other function a no-op.
class Stub {
  constructor(..._args: unknown[]) {}
}

function namespace(known: object): object {
  return new Proxy(known as Record<string | symbol, unknown>, {
    get: (target, key) => (key in target || typeof key === 'symbol' ? target[key]
      : () => new Disposable(() => undefined)),
  });
}

const exported = module.exports as Record<string | symbol, unknown>;
for (const name of ['window', 'workspace', 'commands', 'languages', 'extensions']) {
  exported[name] = namespace(exported[name] as object);
}
module.exports = new Proxy(exported, {
  get: (target, key) => {
    if (key in target || typeof key === 'symbol') {
      return target[key];
    }
    return /^[A-Z]/.test(key) ? Stub : namespace({});
  },
});
