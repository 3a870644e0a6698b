// Preload (node --require): `require('vscode')` resolves to the fake next to this file.
import Module from 'node:module';

const fakePath = require.resolve('./vscode');
type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? fakePath : original.call(this, request, ...rest);
};
