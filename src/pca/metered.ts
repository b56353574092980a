import type { Metrics } from '../platform/metrics.js';
import { PcaError } from './errors.js';
import type { PcaClient } from './types.js';

/** Times every PCA call into the acme_pca_call_duration_seconds histogram. */
export function meteredPcaClient(inner: PcaClient, metrics: Metrics): PcaClient {
  const time = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    const end = metrics.pcaCalls.startTimer({ operation });
    try {
      const result = await call();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: err instanceof PcaError ? (err.kind === 'http' ? `http_${err.httpStatus}` : err.kind) : 'error' });
      throw err;
    }
  };
  return {
    sign: (csrPem, opts) => time('sign', () => inner.sign(csrPem, opts)),
    chain: () => time('chain', () => inner.chain()),
    revoke: (serialNo) => time('revoke', () => inner.revoke(serialNo)),
    getCert: (serialNo) => time('getCert', () => inner.getCert(serialNo)),
    listCerts: (pageNo) => time('listCerts', () => inner.listCerts(pageNo)),
    crl: () => time('crl', () => inner.crl()),
    getCa: () => time('getCa', () => inner.getCa()),
    rotateCrl: () => time('rotateCrl', () => inner.rotateCrl()),
  };
}
