// Which Python runs `python -m verifix serve`: verifix.interpreter, then the Python extension's
// active interpreter, then python3 / python on PATH; the first that can import verifix wins.

import { execFile } from 'child_process';
import * as os from 'os';
import * as path from 'path';

export type Source = 'verifix.interpreter' | 'Python extension' | 'PATH';

export interface Found {
  python: string;
  version: string;
  source: Source;
}

export interface NotFound {
  message: string;
  remedy: string;
}

export type ProbeResult = { version: string } | { error: string };
export type Probe = (python: string) => Promise<ProbeResult>;

export const PATH_NAMES = process.platform === 'win32' ? ['python', 'py'] : ['python3', 'python'];

const PROBE_CODE = 'import verifix; print(verifix.__version__)';

/** Can `python` import verifix? Its version, or why not. */
export function probe(python: string, cwd?: string, timeoutMs = 20000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(python, ['-c', PROBE_CODE], { cwd, timeout: timeoutMs, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ version: stdout.trim() });
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          resolve({ error: 'not found' });
        } else if (/No module named '?verifix/.test(stderr)) {
          resolve({ error: 'verifix is not installed in it' });
        } else {
          const last = stderr.trim().split('\n').pop();
          resolve({ error: last || err.message });
        }
      });
  });
}

/** ~, ${userHome} and ${workspaceFolder}; a relative path is relative to the workspace folder. */
export function expand(value: string, workspaceFolder: string | undefined): string {
  let out = value.trim()
    .replace(/\$\{userHome\}/g, os.homedir())
    .replace(/^~(?=$|[\\/])/, os.homedir());
  if (workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    const isCommandName = !out.includes('/') && !out.includes('\\');
    if (!isCommandName && !path.isAbsolute(out)) {
      out = path.join(workspaceFolder, out);
    }
  }
  return out;
}

export interface FindOptions {
  setting: string;
  workspaceFolder?: string;
  pythonExtension: () => Promise<string | undefined>;
  probe: Probe;
  pathNames?: string[];
}

export async function findInterpreter(opts: FindOptions): Promise<Found | NotFound> {
  if (opts.setting.trim()) {
    // An explicit choice is not second-guessed: say what is wrong with it.
    const python = expand(opts.setting, opts.workspaceFolder);
    const result = await opts.probe(python);
    if ('version' in result) {
      return { python, version: result.version, source: 'verifix.interpreter' };
    }
    return {
      message: `verifix.interpreter "${python}" cannot run verifix: ${result.error}`,
      remedy: `install verifix into it (${python} -m pip install verifix) or change `
        + 'verifix.interpreter',
    };
  }
  const tried: string[] = [];
  const candidates: [string | undefined, Source][] = [
    [await opts.pythonExtension().catch(() => undefined), 'Python extension'],
    ...(opts.pathNames ?? PATH_NAMES).map((n): [string, Source] => [n, 'PATH']),
  ];
  for (const [python, source] of candidates) {
    if (!python) {
      continue;
    }
    const result = await opts.probe(python);
    if ('version' in result) {
      return { python, version: result.version, source };
    }
    tried.push(`${python} (${result.error})`);
  }
  return {
    message: `no Python with verifix found; tried ${tried.join(', ') || 'nothing'}`,
    remedy: 'install verifix into your project\'s environment (pip install verifix), select it '
      + 'with "Python: Select Interpreter", or set verifix.interpreter',
  };
}

// The slice of the Python extension's API used here (ms-python.python, environments API,
// with the older settings API as a fallback).
interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: unknown): { path: string };
    resolveEnvironment(env: { path: string }): Promise<
      { executable: { uri?: { fsPath: string } } } | undefined>;
  };
  settings?: {
    getExecutionDetails?(resource?: unknown): { execCommand?: string[] };
  };
}

export interface ExtensionsLike {
  getExtension(id: string): {
    isActive: boolean;
    exports: unknown;
    activate(): PromiseLike<unknown>;
  } | undefined;
}

export const PYTHON_EXTENSION_ID = 'ms-python.python';

/** The Python extension's active interpreter for `resource`, if it is installed. */
export async function pythonExtensionInterpreter(extensions: ExtensionsLike,
  resource?: unknown): Promise<string | undefined> {
  const ext = extensions.getExtension(PYTHON_EXTENSION_ID);
  if (!ext) {
    return undefined;
  }
  try {
    const api = (ext.isActive ? ext.exports : await ext.activate()) as PythonApi | undefined;
    const envs = api?.environments;
    if (envs) {
      const active = envs.getActiveEnvironmentPath(resource);
      const resolved = await envs.resolveEnvironment(active);
      return resolved?.executable.uri?.fsPath ?? active.path;
    }
    return api?.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
  } catch {
    return undefined;
  }
}
