// What the status bar item says, from the client's state and the server's verifix/status.

import { describe } from './jobs';
import { JobUpdate, ServerStatus, qualnameOf } from './protocol';

export type Phase = 'starting' | 'running' | 'stopped' | 'failed';

export interface Problem {
  message: string;
  remedy: string;
}

export interface StatusInput {
  phase: Phase;
  connection: string; // "python3 (PATH), verifix 0.1.0" or "shared server 127.0.0.1:2087"
  failure?: Problem;
  server?: ServerStatus;
  job?: JobUpdate;
  jobs: number;
}

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'none' | 'warning' | 'error';
}

function withRemedy(p: Problem): string {
  return p.remedy ? `${p.message}\n\nFix: ${p.remedy}` : p.message;
}

export function present(s: StatusInput): StatusView {
  const via = s.connection ? `\n\n${s.connection}` : '';
  if (s.phase === 'failed' && s.failure) {
    return { text: '$(error) verifix', tooltip: `verifix: ${withRemedy(s.failure)}`, severity: 'error' };
  }
  if (s.phase === 'stopped' || s.phase === 'failed') {
    return {
      text: '$(circle-slash) verifix',
      tooltip: 'verifix: the server is not running. Run "verifix: Restart Server".',
      severity: 'warning',
    };
  }
  const server = s.server;
  if (s.phase === 'starting' || !server) {
    return { text: '$(loading~spin) verifix', tooltip: `verifix: starting the server${via}`, severity: 'none' };
  }
  if (server.state === 'error') {
    return {
      text: '$(error) verifix',
      tooltip: `verifix: ${withRemedy({ message: server.message, remedy: server.remedy })}${via}`,
      severity: 'error',
    };
  }
  if (server.state === 'loading') {
    return {
      text: '$(loading~spin) verifix: loading',
      tooltip: `verifix: ${server.message || `loading ${server.model}`}${via}`,
      severity: 'none',
    };
  }
  if (s.job) {
    const j = s.job;
    const more = s.jobs > 1 ? ` (+${s.jobs - 1})` : '';
    const percent = j.state === 'running' ? ` ${j.percent}%` : ' queued';
    return {
      text: `$(sync~spin) verifix: ${j.kind} ${qualnameOf(j.target)}${percent}${more}`,
      tooltip: `verifix: ${j.kind} ${qualnameOf(j.target)} — ${describe(j)}\n\n`
        + 'Run "verifix: Cancel Running Job" to stop it.',
      severity: 'none',
    };
  }
  const fixes = server.fixes.length;
  return {
    text: fixes ? `$(check) verifix $(lightbulb) ${fixes}` : '$(check) verifix',
    tooltip: `verifix: ${server.message || `${server.model} is ready`}`
      + (fixes ? `\n\n${fixes} verified fix${fixes === 1 ? '' : 'es'} ready: code action "Apply verified fix"` : '')
      + via,
    severity: 'none',
  };
}
