import net from 'node:net';
import dgram from 'node:dgram';

// Free-port allocation. The OS hands out an ephemeral port for port 0; we release it straight away
// and hand the number to the process under test. A PortAllocator never hands the same number out
// twice, which avoids collisions between services started together in one test file.

function tcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that is free right now. With `udp`, the same number is free for UDP too (DNS). */
export async function freePort(opts: { udp?: boolean } = {}, exclude: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tcpPort();
    if (exclude.has(port)) continue;
    if (opts.udp && !(await udpFree(port))) continue;
    return port;
  }
  throw new Error('could not find a free port on 127.0.0.1');
}

export class PortAllocator {
  private readonly handedOut = new Set<number>();

  async next(opts: { udp?: boolean } = {}): Promise<number> {
    const port = await freePort(opts, this.handedOut);
    this.handedOut.add(port);
    return port;
  }
}
