// Names and payloads of the verifix language server, mirroring server/verifix/lsp/protocol.py
// (tests/clients/test_vscode.py checks that the constants match).

export const GENERATE = 'verifix.generate';
export const REPAIR = 'verifix.repair';
export const APPLY_FIX = 'verifix.applyFix';
export const CANCEL = 'verifix.cancel';
export const STATUS = 'verifix.status';
export const COMMANDS = [GENERATE, REPAIR, APPLY_FIX, CANCEL, STATUS] as const;

export const STATUS_NOTIFICATION = 'verifix/status';
export const JOB_UPDATE_NOTIFICATION = 'verifix/jobUpdate';

export const TOKEN_OPTION = 'verifixToken';
export const CONFIG_SECTION = 'verifix';
export const DIAGNOSTIC_SOURCE = 'verifix';
export const ANNOTATION_ID = 'verifix';

export const TITLE_GENERATE = 'Generate verified implementation';
export const TITLE_REPAIR = 'Repair failing test';
export const TITLE_APPLY_FIX = 'Apply verified fix';

export const TEST_ENGINE_ENV = 'VERIFIX_TEST_SCRIPTED_ENGINE';

export type ModelState = 'loading' | 'ready' | 'error';
export type JobState = 'queued' | 'running' | 'finished' | 'cancelled';
export type ResultStatus = 'verified' | 'plausible' | 'unverified' | 'error';

export interface GenerateArgs {
  uri: string;
  qualname: string;
}

export type RepairArgs = GenerateArgs;

export interface ApplyFixArgs {
  fixId: string;
}

export interface CancelArgs {
  jobId?: string | null;
}

export interface JobInfo {
  jobId: string;
  kind: string;
  target: string;
  state: JobState;
}

export interface ServerStatus {
  state: ModelState;
  model: string;
  message: string;
  remedy: string;
  jobs: JobInfo[];
  fixes: string[];
  settings: Record<string, unknown>;
}

/** An answer shown while the job runs (it passes the trusted checks; agreement is still
 * running). Never applied: only the job's final answer is. */
export interface InterimAnswer {
  status: ResultStatus;
  code: string;
  message: string;
}

export interface JobUpdate {
  jobId: string;
  kind: string;
  target: string;
  state: JobState;
  phase: string;
  percent: number;
  candidates: number;
  checksPassed: number;
  checksTotal: number;
  message: string;
  position: number;
  status: ResultStatus | null;
  evidence: Record<string, unknown> | null;
  applied: boolean | null;
  interim: InterimAnswer | null;
}

export interface JobOutcome {
  jobId: string;
  status: ResultStatus;
  message: string;
  applied: boolean;
  reason: string;
  code: string;
  evidence: Record<string, unknown> | null;
  fixId: string | null;
}

// The server leaves fields equal to their default off the wire: put them back.
export function asStatus(raw: unknown): ServerStatus {
  return {
    state: 'loading', model: '', message: '', remedy: '', jobs: [], fixes: [], settings: {},
    ...(raw as Partial<ServerStatus>),
  };
}

export function asJobUpdate(raw: unknown): JobUpdate {
  return {
    jobId: '', kind: '', target: '', state: 'queued', phase: '', percent: 0, candidates: 0,
    checksPassed: 0, checksTotal: 0, message: '', position: 0, status: null, evidence: null,
    applied: null, interim: null, ...(raw as Partial<JobUpdate>),
  };
}

export function asOutcome(raw: unknown): JobOutcome {
  return {
    jobId: '', status: 'error', message: '', applied: false, reason: '', code: '', evidence: null,
    fixId: null, ...(raw as Partial<JobOutcome>),
  };
}

/** "/path/to/mod.py::Class.method" -> "Class.method". */
export function qualnameOf(target: string): string {
  const at = target.lastIndexOf('::');
  return at < 0 ? target : target.slice(at + 2);
}
