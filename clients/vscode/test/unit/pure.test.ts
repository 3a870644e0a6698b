// Modules without VS Code: protocol payloads, code-action choice, job progress, status bar text.

import * as assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { pickCommand, qualnameOfArgs } from '../../src/actions';
import { Jobs, describe } from '../../src/jobs';
import * as P from '../../src/protocol';
import { present } from '../../src/status';

suite('protocol payloads', () => {
  test('fields left off the wire get their defaults', () => {
    const s = P.asStatus({ state: 'ready', model: 'm' });
    assert.deepEqual(s, {
      state: 'ready', model: 'm', message: '', remedy: '', jobs: [], fixes: [], settings: {},
    });
    const u = P.asJobUpdate({ jobId: 'j', kind: 'generate', target: '/p/m.py::f', state: 'running' });
    assert.equal(u.percent, 0);
    assert.equal(u.status, null);
    assert.equal(P.asOutcome({ jobId: 'j', status: 'verified', message: '' }).applied, false);
  });

  test('qualname of a target', () => {
    assert.equal(P.qualnameOf('/p/m.py::C.method'), 'C.method');
    assert.equal(P.qualnameOf('C:\\p\\m.py::f'), 'f');
  });
});

suite('pickCommand', () => {
  const generate = { title: 'Generate verified implementation', command: P.GENERATE,
    arguments: [{ uri: 'file:///m.py', qualname: 'double' }] };
  const repair = { title: 'Repair failing test', command: P.REPAIR,
    arguments: [{ uri: 'file:///t.py', qualname: 'test_x' }] };

  test('finds the command inside a CodeAction or as a bare Command', () => {
    const items = [{ title: 'Apply verified fix', command: { title: 'a', command: P.APPLY_FIX } },
      { title: 'Generate verified implementation', kind: 'refactor.rewrite', command: generate },
      repair];
    assert.deepEqual(pickCommand(items, P.GENERATE), generate);
    assert.deepEqual(pickCommand(items, P.REPAIR), repair);
    assert.equal(qualnameOfArgs(pickCommand(items, P.GENERATE)?.arguments), 'double');
  });

  test('nothing to run', () => {
    assert.equal(pickCommand(null, P.GENERATE), undefined);
    assert.equal(pickCommand([{ title: 'x', edit: {} }], P.GENERATE), undefined);
    assert.equal(qualnameOfArgs([]), undefined);
  });
});

function update(fields: Partial<P.JobUpdate>): P.JobUpdate {
  return P.asJobUpdate({ jobId: 'j1', kind: 'generate', target: '/p/m.py::double',
    state: 'running', ...fields });
}

suite('jobs', () => {
  test('describe', () => {
    assert.equal(describe(update({ state: 'queued', message: 'queued (1 ahead)' })), 'queued (1 ahead)');
    assert.equal(describe(update({ phase: 'probe', message: 'greedy', candidates: 1,
      checksPassed: 1, checksTotal: 2 })), 'probe: greedy — 1 candidate, checks 1/2');
    assert.equal(describe(update({ phase: 'done', message: 'verified', state: 'finished' })), 'verified');
  });

  test('a watch claims its job and turns percentages into increments', () => {
    const jobs = new Jobs();
    const steps: { message: string; increment?: number }[] = [];
    const other: unknown[] = [];
    const { watch, dispose } = jobs.watch('generate', 'double', (s) => steps.push(s));
    jobs.watch('generate', 'other', (s) => other.push(s));
    jobs.update(update({ jobId: 'bg', kind: 'repair', target: '/p/t.py::test_double' }));
    jobs.update(update({ state: 'queued', message: 'queued' }));
    jobs.update(update({ phase: 'probe', percent: 30 }));
    jobs.update(update({ phase: 'checks', percent: 20 })); // went back: no negative increment
    jobs.update(update({ phase: 'select', percent: 80 }));
    jobs.update(update({ state: 'finished', phase: 'done', percent: 100, status: 'verified' }));
    assert.equal(watch.jobId, 'j1');
    assert.deepEqual(steps.map((s) => s.increment), [undefined, 30, undefined, 50, 20]);
    assert.equal(steps.reduce((n, s) => n + (s.increment ?? 0), 0), 100);
    assert.deepEqual(other, []);
    assert.deepEqual([...jobs.active.keys()], ['bg']);
    dispose();
  });

  test('a job claimed by one watch is not taken by a second one on the same function', () => {
    const jobs = new Jobs();
    const first: unknown[] = [];
    const second: unknown[] = [];
    jobs.watch('generate', 'double', (s) => first.push(s));
    jobs.update(update({ jobId: 'a', state: 'queued' }));
    jobs.watch('generate', 'double', (s) => second.push(s));
    jobs.update(update({ jobId: 'a', percent: 10 }));
    jobs.update(update({ jobId: 'b', state: 'queued' }));
    assert.equal(first.length, 2);
    assert.equal(second.length, 1);
  });

  test('a status snapshot drops jobs that ended unseen', () => {
    const jobs = new Jobs();
    jobs.update(update({ jobId: 'a' }));
    jobs.update(update({ jobId: 'b', state: 'queued' }));
    jobs.snapshot([{ jobId: 'b', kind: 'generate', target: '/p/m.py::double', state: 'running' },
      { jobId: 'c', kind: 'repair', target: '/p/t.py::test_x', state: 'queued' }]);
    assert.deepEqual([...jobs.active.keys()].sort(), ['b', 'c']);
    assert.equal(jobs.current()?.jobId, 'b');
  });
});

suite('status bar text', () => {
  const ready = P.asStatus({ state: 'ready', model: 'qwen2.5-coder-0.5b', message: 'qwen2.5-coder-0.5b is ready' });

  test('starting, loading, ready', () => {
    assert.match(present({ phase: 'starting', connection: '', jobs: 0 }).text, /loading~spin/);
    const loading = present({ phase: 'running', connection: 'python3 (from PATH)', jobs: 0,
      server: P.asStatus({ state: 'loading', model: 'm', message: 'loading m' }) });
    assert.equal(loading.text, '$(loading~spin) verifix: loading');
    assert.match(loading.tooltip, /loading m[\s\S]*python3 \(from PATH\)/);
    const view = present({ phase: 'running', connection: '', jobs: 0, server: ready });
    assert.equal(view.text, '$(check) verifix');
    assert.equal(view.severity, 'none');
  });

  test('a model error shows its remedy', () => {
    const view = present({ phase: 'running', connection: '', jobs: 0, server: P.asStatus({
      state: 'error', model: 'm', message: 'the model could not load: missing',
      remedy: "pip install 'verifix[model]'" }) });
    assert.equal(view.severity, 'error');
    assert.match(view.tooltip, /could not load: missing\n\nFix: pip install 'verifix\[model\]'/);
  });

  test('a client failure and a stopped server', () => {
    const failed = present({ phase: 'failed', connection: '', jobs: 0,
      failure: { message: 'no Python with verifix found', remedy: 'set verifix.interpreter' } });
    assert.equal(failed.severity, 'error');
    assert.match(failed.tooltip, /Fix: set verifix.interpreter/);
    assert.equal(present({ phase: 'stopped', connection: '', jobs: 0 }).severity, 'warning');
  });

  test('busy with a job, and verified fixes waiting', () => {
    const busy = present({ phase: 'running', connection: '', jobs: 2, server: ready,
      job: update({ phase: 'probe', percent: 40 }) });
    assert.equal(busy.text, '$(sync~spin) verifix: generate double 40% (+1)');
    assert.match(busy.tooltip, /Cancel Running Job/);
    const fixes = present({ phase: 'running', connection: '', jobs: 0,
      server: { ...ready, fixes: ['f1'] } });
    assert.match(fixes.text, /lightbulb\) 1$/);
    assert.match(fixes.tooltip, /1 verified fix ready/);
  });
});
