import * as vscode from 'vscode';
import { Verifix } from './controller';
import { PYTHON_EXTENSION_ID, probe, pythonExtensionInterpreter } from './interpreter';
import { createLanguageClient } from './languageClient';
import { serverKeys } from './settings';

let verifix: Verifix | undefined;

interface PythonEnvironmentsApi {
  environments?: { onDidChangeActiveEnvironmentPath?: vscode.Event<unknown> };
}

function onPythonInterpreterChange(listener: () => void): vscode.Disposable | undefined {
  const ext = vscode.extensions.getExtension<PythonEnvironmentsApi>(PYTHON_EXTENSION_ID);
  if (!ext) {
    return undefined;
  }
  let inner: vscode.Disposable | undefined;
  let disposed = false;
  void Promise.resolve(ext.isActive ? ext.exports : ext.activate()).then((api) => {
    const event = api?.environments?.onDidChangeActiveEnvironmentPath;
    if (event && !disposed) {
      inner = event(listener);
    }
  }, () => undefined);
  return new vscode.Disposable(() => {
    disposed = true;
    inner?.dispose();
  });
}

export function activate(context: vscode.ExtensionContext): void {
  verifix = new Verifix(serverKeys(context.extension.packageJSON), {
    createClient: createLanguageClient,
    probe: (python) => probe(python, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath),
    pythonExtension: (resource) => pythonExtensionInterpreter(vscode.extensions, resource),
    onPythonInterpreterChange,
  });
  // Commands work at once; the server starts in the background (the status bar tells).
  void verifix.activate(context);
}

export function deactivate(): Promise<void> | undefined {
  return verifix?.dispose();
}
