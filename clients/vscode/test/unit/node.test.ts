// Modules that touch Node but not VS Code: settings, TCP, finding the interpreter.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe as suite, test } from 'node:test';
import {
  ExtensionsLike, expand, findInterpreter, probe, pythonExtensionInterpreter,
} from '../../src/interpreter';
import {
  CLIENT_ONLY, ConfigurationLike, ServerSettings, contributedKeys, nest, serverKeys,
} from '../../src/settings';
import { connect, formatTcp, parseTcp, readToken, tokenCandidates } from '../../src/tcp';
import { freePort, withListener } from '../fake/loopback';

const packageJson: unknown = JSON.parse(fs.readFileSync(
  path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

/** A WorkspaceConfiguration over user values and package.json defaults. */
function config(user: Record<string, unknown>): ConfigurationLike {
  const defaults: Record<string, unknown> = { model: 'qwen2.5-coder-0.5b', 'pipeline.candidates': 4,
    'sandbox.allowWeak': false, interpreter: '' };
  return {
    get: <T>(key: string) => (key in user ? user[key] : defaults[key]) as T,
    inspect: <T>(key: string) => ({ globalValue: user[key] as T | undefined }),
  };
}

suite('settings', () => {
  test('server keys are package.json settings less the client\'s own', () => {
    const all = contributedKeys(packageJson);
    const server = serverKeys(packageJson);
    for (const key of CLIENT_ONLY) {
      assert.ok(all.includes(key), key);
      assert.ok(!server.includes(key), key);
    }
    assert.ok(server.includes('pipeline.candidates') && server.includes('sandbox.allowWeak'));
    assert.equal(new Set(server).size, server.length);
  });

  test('nest', () => {
    assert.deepEqual(nest({ model: 'm', 'sandbox.allowWeak': true, 'sandbox.timeout': 2 }),
      { model: 'm', sandbox: { allowWeak: true, timeout: 2 } });
  });

  test('only what the user set is sent, nested, without client keys', () => {
    const s = new ServerSettings(serverKeys(packageJson));
    const section = s.section(config({ 'pipeline.candidates': 2, interpreter: '/x/python' }));
    assert.deepEqual(section, { pipeline: { candidates: 2 } });
  });

  test('a setting removed after it was sent goes back to its default', () => {
    const s = new ServerSettings(serverKeys(packageJson));
    assert.deepEqual(s.section(config({ model: '/models/x.gguf' })), { model: '/models/x.gguf' });
    assert.deepEqual(s.section(config({})), { model: 'qwen2.5-coder-0.5b' });
  });
});

suite('tcp', () => {
  test('parse', () => {
    assert.deepEqual(parseTcp('127.0.0.1:2087'), { host: '127.0.0.1', port: 2087 });
    assert.deepEqual(parseTcp(' [::1]:2087 '), { host: '::1', port: 2087 });
    assert.deepEqual(parseTcp('localhost:1'), { host: 'localhost', port: 1 });
    for (const bad of ['', '2087', '127.0.0.1', '127.0.0.1:', ':2087', 'h:0', 'h:65536', 'h:x']) {
      assert.throws(() => parseTcp(bad), /HOST:PORT/, bad);
    }
    assert.equal(formatTcp({ host: '::1', port: 5 }), '[::1]:5');
  });

  test('connects to a listening server', async () => {
    await withListener(async (port) => {
      const socket = await connect({ host: '127.0.0.1', port });
      assert.equal(socket.remotePort, port);
      socket.destroy();
    });
  });

  test('connects to a UNIX socket, and says how to start it when nothing listens', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-sock-'));
    const sock = path.join(dir, 'verifix.sock');
    await assert.rejects(connect({ path: sock }),
      new RegExp(`ENOENT.*verifix serve --socket ${sock.replace(/[.]/g, '\\.')}`));
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    const socket = await connect({ path: sock });
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true });
  });

  test('the token: where the server writes it, only if only its owner can read it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-run-'));
    const uid = os.userInfo().uid;
    const env = { XDG_RUNTIME_DIR: dir };
    assert.deepEqual(tokenCandidates(2087, env, uid).slice(0, 2), [
      path.join(dir, 'verifix', 'tcp-2087.token'), `/run/user/${uid}/verifix/tcp-2087.token`]);
    assert.throws(() => readToken(2087, '', { XDG_RUNTIME_DIR: path.join(dir, 'none') }, 4242),
      /no token for the verifix server on port 2087.*verifix serve --tcp 127\.0\.0\.1:2087/);
    fs.mkdirSync(path.join(dir, 'verifix'), { mode: 0o700 });
    const file = path.join(dir, 'verifix', 'tcp-2087.token');
    fs.writeFileSync(file, 'abc\n', { mode: 0o600 });
    assert.equal(readToken(2087, '', env, uid), 'abc');
    fs.chmodSync(file, 0o640);
    assert.throws(() => readToken(2087, '', env, uid), /chmod 600/);
    fs.rmSync(dir, { recursive: true });
  });

  test('says how to start the shared server when nothing listens', async () => {
    const port = await freePort();
    await assert.rejects(connect({ host: '127.0.0.1', port }),
      new RegExp(`ECONNREFUSED.*verifix serve --tcp 127\\.0\\.0\\.1:${port}`));
  });
});

suite('interpreter', () => {
  test('expand', () => {
    assert.equal(expand('~/venv/bin/python', '/w'), path.join(os.homedir(), 'venv/bin/python'));
    assert.equal(expand('${workspaceFolder}/.venv/bin/python', '/w'), '/w/.venv/bin/python');
    assert.equal(expand('.venv/bin/python', '/w'), path.join('/w', '.venv/bin/python'));
    assert.equal(expand('python3.11', '/w'), 'python3.11');
  });

  const versions: Record<string, string> = { '/ext/python': '0.1.0', python: '0.1.0' };
  const fakeProbe = async (python: string) => (python in versions
    ? { version: versions[python] } : { error: 'verifix is not installed in it' });

  test('the setting first, and it is not second-guessed', async () => {
    const found = await findInterpreter({ setting: '/ext/python', pythonExtension: async () => 'python',
      probe: fakeProbe });
    assert.deepEqual(found, { python: '/ext/python', version: '0.1.0', source: 'verifix.interpreter' });
    const bad = await findInterpreter({ setting: '/nope/python', pythonExtension: async () => '/ext/python',
      probe: fakeProbe });
    assert.ok('message' in bad);
    assert.match(bad.message, /"\/nope\/python" cannot run verifix: verifix is not installed/);
    assert.match(bad.remedy, /\/nope\/python -m pip install verifix/);
  });

  test('then the Python extension, then PATH', async () => {
    assert.deepEqual(await findInterpreter({ setting: '', pythonExtension: async () => '/ext/python',
      probe: fakeProbe, pathNames: ['python3', 'python'] }),
    { python: '/ext/python', version: '0.1.0', source: 'Python extension' });
    assert.deepEqual(await findInterpreter({ setting: '', pythonExtension: async () => '/other',
      probe: fakeProbe, pathNames: ['python3', 'python'] }),
    { python: 'python', version: '0.1.0', source: 'PATH' });
    const none = await findInterpreter({ setting: '', pythonExtension: async () => undefined,
      probe: fakeProbe, pathNames: ['python3'] });
    assert.ok('message' in none);
    assert.match(none.message, /tried python3 \(verifix is not installed in it\)/);
    assert.match(none.remedy, /Select Interpreter/);
  });

  test('the Python extension\'s active interpreter', async () => {
    const ext = (exports: unknown): ExtensionsLike => ({
      getExtension: (id) => (id === 'ms-python.python'
        ? { isActive: false, exports: undefined, activate: async () => exports } : undefined),
    });
    assert.equal(await pythonExtensionInterpreter({ getExtension: () => undefined }), undefined);
    assert.equal(await pythonExtensionInterpreter(ext({ environments: {
      getActiveEnvironmentPath: () => ({ path: '/envs/a' }),
      resolveEnvironment: async () => ({ executable: { uri: { fsPath: '/envs/a/bin/python' } } }),
    } })), '/envs/a/bin/python');
    assert.equal(await pythonExtensionInterpreter(ext({ settings: {
      getExecutionDetails: () => ({ execCommand: ['/old/python'] }),
    } })), '/old/python');
    assert.equal(await pythonExtensionInterpreter(ext({ environments: {
      getActiveEnvironmentPath: () => { throw new Error('boom'); },
    } })), undefined);
  });

  test('probe runs the interpreter', { skip: process.platform === 'win32' }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifix-probe-'));
    try {
      const good = path.join(dir, 'good');
      const bad = path.join(dir, 'bad');
      fs.writeFileSync(good, '#!/bin/sh\necho 9.9.9\n', { mode: 0o755 });
      fs.writeFileSync(bad, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'verifix\'" >&2\nexit 1\n',
        { mode: 0o755 });
      assert.deepEqual(await probe(good), { version: '9.9.9' });
      assert.deepEqual(await probe(bad), { error: 'verifix is not installed in it' });
      assert.deepEqual(await probe(path.join(dir, 'missing')), { error: 'not found' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
