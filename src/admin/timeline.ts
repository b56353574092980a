import type { ProblemDocument } from '../acme/problems.js';
import type { Certificate, Order } from '../acme/types.js';
import type { AuditEvent, AuthorizationHistory } from '../store/ops-types.js';
import type { IssuanceAttempt } from '../store/types.js';
import { problemInWords } from './problem-words.js';

// An order's whole life in time order, for `orders show` and the console: created, each
// authorization and each challenge attempt with its result, every PCA sign call with its outcome and
// latency, and the end (issued, or failed with its problem in plain words), with the audit events
// that name the order (refusals, revocation) in between. A pure function of what the store holds.

export interface TimelineEntry {
  at: string;
  event: string;
  /** One line for a human. */
  summary: string;
  outcome?: string;
  latencyMs?: number;
  problem?: ProblemDocument;
  /** The problem in plain words (failures only). */
  explanation?: string;
}

export interface TimelineInput {
  order: Order;
  authorizations: AuthorizationHistory[];
  attempts: IssuanceAttempt[];
  certificate: Certificate | null;
  audit: AuditEvent[];
}

export function buildTimeline(t: TimelineInput): TimelineEntry[] {
  const entries: Array<TimelineEntry & { ms: number; rank: number }> = [];
  const add = (ms: number, rank: number, e: TimelineEntry) => entries.push({ ...e, ms, rank });
  const iso = (ms: number) => new Date(ms).toISOString();
  const { order } = t;

  add(order.createdAt.getTime(), 0, { at: iso(order.createdAt.getTime()), event: 'order.created', summary: `order created for ${order.identifiers.map((i) => i.value).join(', ')}` });
  for (const a of t.authorizations) {
    const name = `${a.wildcard ? '*.' : ''}${a.identifier.value}`;
    add(a.createdAt.getTime(), 1, { at: iso(a.createdAt.getTime()), event: 'authorization.created', summary: `authorization for ${name}` });
    for (const c of a.challenges) {
      if (c.status === 'pending') continue; // offered, never tried
      const ms = (c.validatedAt ?? c.updatedAt).getTime();
      add(ms, 2, {
        at: iso(ms),
        event: 'challenge.attempt',
        summary: `${c.type} for ${name}: ${c.status}`,
        outcome: c.status,
        ...(c.error ? { problem: c.error, explanation: problemInWords(c.error) } : {}),
      });
    }
    if (a.status !== 'pending') add(a.updatedAt.getTime(), 3, { at: iso(a.updatedAt.getTime()), event: 'authorization.result', summary: `authorization for ${name}: ${a.status}`, outcome: a.status });
  }
  for (const at of t.attempts) {
    const latency = at.finishedAt === null ? undefined : at.finishedAt - at.startedAt;
    add(at.startedAt, 4, {
      at: iso(at.startedAt),
      event: 'pca.sign',
      summary: `PCA sign call: ${at.outcome}${latency !== undefined ? ` in ${latency} ms` : ' (no answer yet)'}${at.pcaSerial ? `, serial ${at.pcaSerial}` : ''}${at.error ? ` (${at.error})` : ''}`,
      outcome: at.outcome,
      ...(latency !== undefined ? { latencyMs: latency } : {}),
    });
  }
  for (const e of t.audit) {
    if (e.action === 'certificate.issued' || e.action === 'order.failed') continue; // the end below says it
    const problem = (e.detail.problem as ProblemDocument | undefined) ?? undefined;
    add(e.at.getTime(), 5, {
      at: iso(e.at.getTime()),
      event: e.action,
      summary: `${e.action}${e.actorName ? ` by ${e.actor} ${e.actorName}` : ''}${problem?.detail ? `: ${problem.detail}` : ''}`,
      ...(problem ? { problem, explanation: problemInWords(problem) } : {}),
    });
  }
  if (t.certificate) {
    const c = t.certificate;
    add(c.createdAt.getTime(), 6, { at: iso(c.createdAt.getTime()), event: 'certificate.issued', summary: `certificate issued: serial ${c.serialHex}, valid until ${c.notAfter.toISOString()}`, outcome: 'valid' });
    // The audit trail's revocation (which says who) replaces the bare one from the certificate row.
    if (c.revokedAt && !t.audit.some((e) => e.action === 'certificate.revoked')) add(c.revokedAt.getTime(), 7, { at: iso(c.revokedAt.getTime()), event: 'certificate.revoked', summary: `certificate revoked (reason ${c.revocationReason ?? 0})`, outcome: 'revoked' });
  } else if (order.status === 'invalid') {
    add(order.updatedAt.getTime(), 6, {
      at: iso(order.updatedAt.getTime()),
      event: 'order.failed',
      summary: `order failed: ${order.error?.detail ?? 'no problem recorded'}`,
      outcome: 'invalid',
      ...(order.error ? { problem: order.error, explanation: problemInWords(order.error) } : {}),
    });
  }
  entries.sort((a, b) => a.ms - b.ms || a.rank - b.rank);
  return entries.map(({ ms: _ms, rank: _rank, ...e }) => e);
}
