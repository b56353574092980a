/**
 * A PCA service error: answered as the envelope {code, msg, data:null} (ncp-pca-api §2). The HTTP status
 * of each code is undocumented (§4.8); the simulator uses 400 for bad input, 404 for unknown CA/serial and
 * 500 for its own faults. These are assumptions, kept in one place.
 */
export class PcaApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PcaApiError';
  }
}

/** An API Gateway error, answered as {"error":{errorCode,message,details}} (ncp-pca-api §1.3 table; shape unverified). */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly details: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export const notFound = (what: string): PcaApiError => new PcaApiError(404, 'NOT_FOUND', `${what} not found.`);
