import http from 'node:http';
import https from 'node:https';

// One small HTTP/1.1 client over a keep-alive agent, so the benchmark measures the server and not
// connection set-up. The ACME server's TLS certificate is checked against the given CA PEM.

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClient {
  request(method: 'GET' | 'HEAD' | 'POST', url: string, body?: { contentType: string; data: string }): Promise<HttpResponse>;
  close(): void;
}

export function createHttpClient(opts: { caPem: string | null; maxSockets: number; timeoutMs: number }): HttpClient {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets, ...(opts.caPem ? { ca: opts.caPem } : {}) });

  return {
    request(method, url, body) {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const headers: http.OutgoingHttpHeaders = { Accept: '*/*', 'User-Agent': 'acme-pca-gateway-bench' };
      if (body) {
        headers['Content-Type'] = body.contentType;
        headers['Content-Length'] = Buffer.byteLength(body.data);
      }
      return new Promise<HttpResponse>((resolve, reject) => {
        const req = (secure ? https : http).request(
          target,
          { method, headers, agent: secure ? httpsAgent : httpAgent, signal: AbortSignal.timeout(opts.timeoutMs) },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body?.data);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
