// Jobs as the client sees them: the active ones (for the status bar) and the ones the user
// started from this window (each feeding its progress notification).

import { JobInfo, JobUpdate, asJobUpdate, qualnameOf } from './protocol';

export interface ProgressStep {
  message: string;
  increment?: number;
}

export type Reporter = (step: ProgressStep) => void;

/** "probe: 2 candidates, checks 1/1" and the like, from one jobUpdate. */
export function describe(u: JobUpdate): string {
  if (u.state === 'queued') {
    return u.message || 'queued';
  }
  const head = [u.phase, u.message].filter((s) => s && s !== 'done').join(': ');
  const facts: string[] = [];
  if (u.candidates > 0) {
    facts.push(`${u.candidates} candidate${u.candidates === 1 ? '' : 's'}`);
  }
  if (u.checksTotal > 0) {
    facts.push(`checks ${u.checksPassed}/${u.checksTotal}`);
  }
  return [head, facts.join(', ')].filter(Boolean).join(' — ');
}

/** Follows one user-started job; the server tells its id only at the end, so the watch claims
 * the first unclaimed job of its kind on its function. */
export class JobWatch {
  jobId: string | undefined;
  private percent = 0;

  constructor(readonly kind: string, readonly qualname: string, private readonly report: Reporter,
    private readonly onInterim?: (u: JobUpdate) => void) {}

  matches(u: JobUpdate): boolean {
    return this.jobId === undefined
      ? u.kind === this.kind && qualnameOf(u.target) === this.qualname
      : u.jobId === this.jobId;
  }

  feed(u: JobUpdate): void {
    this.jobId ??= u.jobId;
    // withProgress takes increments; percentages may repeat or (between phases) go back.
    const percent = Math.min(100, Math.max(this.percent, u.percent));
    const increment = percent - this.percent;
    this.percent = percent;
    this.report({ message: describe(u), increment: increment > 0 ? increment : undefined });
    if (u.interim) {
      this.onInterim?.(u);
    }
  }
}

export class Jobs {
  readonly active = new Map<string, JobUpdate>();
  private readonly watches = new Set<JobWatch>();
  private readonly claimed = new Set<string>();

  watch(kind: string, qualname: string, report: Reporter, onInterim?: (u: JobUpdate) => void,
  ): { watch: JobWatch; dispose: () => void } {
    const watch = new JobWatch(kind, qualname, report, onInterim);
    this.watches.add(watch);
    return { watch, dispose: () => this.watches.delete(watch) };
  }

  update(raw: unknown): JobUpdate {
    const u = asJobUpdate(raw);
    if (u.state === 'finished' || u.state === 'cancelled') {
      this.active.delete(u.jobId);
    } else {
      this.active.set(u.jobId, u);
    }
    const owner = [...this.watches].find((w) => w.jobId === u.jobId)
      ?? (this.claimed.has(u.jobId) ? undefined : [...this.watches].find((w) => w.matches(u)));
    if (owner) {
      this.claimed.add(u.jobId);
      owner.feed(u);
    }
    return u;
  }

  /** A verifix/status snapshot lists the jobs still active. */
  snapshot(jobs: JobInfo[]): void {
    const ids = new Set(jobs.map((j) => j.jobId));
    for (const id of [...this.active.keys()]) {
      if (!ids.has(id)) {
        this.active.delete(id);
      }
    }
    for (const j of jobs) {
      if (!this.active.has(j.jobId)) {
        this.active.set(j.jobId, asJobUpdate(j));
      }
    }
  }

  clear(): void {
    this.active.clear();
  }

  /** The job to show: the running one, else the next queued. */
  current(): JobUpdate | undefined {
    const all = [...this.active.values()];
    return all.find((j) => j.state === 'running') ?? all[0];
  }
}
