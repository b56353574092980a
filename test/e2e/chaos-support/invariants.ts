import type { OrderOutcome } from './acme.js';
import { chainProblem, unknownToGateway, type GatewayDbSnapshot } from './checks.js';
import type { SimulatorIssued } from './gateway-process.js';

// The end-of-run checks shared by the chaos and crash tests (issue 4 "What must be shown").

export interface RunSummary {
  orders: number;
  finalized: number;
  valid: number;
  invalid: number;
  /** Orders the client left before finalizing (e.g. its deadline passed during a restart storm). */
  abandoned: number;
  pcaIssued: number;
  attached: number;
  orphans: number;
  /** CSR keys for which the PCA issued more than one certificate (each extra one must be recorded). */
  keysSignedTwice: number;
  wrongKeyCerts: number;
  problems: Record<string, number>;
}

export interface Verdict {
  summary: RunSummary;
  violations: string[];
}

export function checkRun(outcomes: OrderOutcome[], issued: SimulatorIssued[], db: GatewayDbSnapshot, rootPem: string): Verdict {
  const v: string[] = [];
  const ordersById = new Map(db.orders.map((o) => [o.id, o]));
  const certById = new Map(db.certificates.map((c) => [c.id, c]));

  // No order is stuck: nothing in the database is still processing.
  for (const o of db.orders) if (o.status === 'processing') v.push(`order ${o.id} is still processing`);
  for (const c of db.processingChallenges) v.push(`challenge ${c} is still processing`);

  // Invalid orders carry a problem a user can read.
  for (const o of db.orders) {
    if (o.status === 'invalid' && (!o.error?.type || !o.error.detail)) v.push(`order ${o.id} is invalid without a problem (${JSON.stringify(o.error)})`);
  }

  // Every finalized order ended valid or invalid, and the client saw the same as the database.
  const problems: Record<string, number> = {};
  for (const out of outcomes) {
    if (!out.finalized) continue;
    const row = out.orderId ? ordersById.get(out.orderId) : undefined;
    if (!row) {
      v.push(`${out.label}: finalized order ${out.orderId} not in the database`);
      continue;
    }
    if (row.status !== 'valid' && row.status !== 'invalid') v.push(`${out.label}: order ${row.id} ended ${row.status}`);
    if (out.status !== row.status && !out.note) v.push(`${out.label}: client saw ${out.status}, database says ${row.status}`);
    if (row.status === 'invalid') {
      const key = `${row.error?.type?.replace('urn:ietf:params:acme:error:', '')}: ${(row.error?.detail ?? '').replace(/\(.*$/, '').trim().slice(0, 80)}`;
      problems[key] = (problems[key] ?? 0) + 1;
    }
    if (out.status === 'valid') {
      if (!out.certPem) v.push(`${out.label}: valid but no certificate downloaded (${out.note})`);
      else {
        const p = chainProblem(out.certPem, out.spkiSha256, rootPem);
        if (p) v.push(`${out.label}: WRONG CERTIFICATE served: ${p}`);
      }
    }
  }

  // Every valid order in the database has a certificate for its CSR's key.
  for (const o of db.orders) {
    if (o.status !== 'valid') continue;
    const cert = o.certificateId ? certById.get(o.certificateId) : undefined;
    if (!cert) v.push(`order ${o.id} valid without a certificate row`);
    else if (cert.spkiSha256 !== o.csrSpki) v.push(`order ${o.id} has a certificate for another key`);
  }

  // Every certificate the PCA issued is known to the gateway (attached or recorded as an orphan).
  const lost = unknownToGateway(
    issued.map((i) => i.serialNo),
    db,
  );
  for (const s of lost) {
    const rec = issued.find((i) => i.serialNo === s)!;
    const owner = db.orders.find((o) => o.csrSpki === rec.spkiSha256);
    v.push(`PCA certificate ${s} (issued ${rec.issuedAt}) is unknown to the gateway${owner ? ` (order ${owner.id}, ${owner.status})` : ' (key of no order: wrong-key certificate)'}`);
  }

  // Duplicates per CSR key, and wrong-key certificates never attached.
  const csrKeys = new Set(db.orders.map((o) => o.csrSpki).filter((s): s is string => !!s));
  const perKey = new Map<string, number>();
  let wrongKeyCerts = 0;
  for (const i of issued) {
    if (csrKeys.has(i.spkiSha256)) perKey.set(i.spkiSha256, (perKey.get(i.spkiSha256) ?? 0) + 1);
    else wrongKeyCerts++;
  }
  const attachedIds = new Set(db.orders.map((o) => o.certificateId).filter(Boolean));
  for (const c of db.certificates) {
    if (attachedIds.has(c.id) && !csrKeys.has(c.spkiSha256)) v.push(`certificate ${c.pcaSerial} with a stranger's key is attached to an order`);
  }

  const finalized = outcomes.filter((o) => o.finalized);
  return {
    violations: v,
    summary: {
      orders: outcomes.length,
      finalized: finalized.length,
      valid: outcomes.filter((o) => o.status === 'valid').length,
      invalid: outcomes.filter((o) => o.finalized && o.status === 'invalid').length,
      abandoned: outcomes.filter((o) => !o.finalized).length,
      pcaIssued: issued.length,
      attached: attachedIds.size,
      orphans: db.certificates.length - attachedIds.size,
      keysSignedTwice: [...perKey.values()].filter((n) => n > 1).length,
      wrongKeyCerts,
      problems,
    },
  };
}
