import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import type { FromLoad, ToLoad } from '../protocol.js';
import { startChallengeServer } from './challenge-server.js';
import { startDnsResponder } from './dns-responder.js';
import { runLoad } from './drive.js';

// Entry point of the load process (forked by run.ts): owns the DNS responder and the http-01
// server, runs the ACME clients on request, and exits when told to or when the parent goes away.

const send = (m: FromLoad) => process.send?.(m);

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/load/main.js is started by bench/run.js (it needs an IPC channel)');
  const dns = await startDnsResponder();
  const challenges = await startChallengeServer();
  let busy = Promise.resolve();

  const shutdown = async (code: number) => {
    await Promise.allSettled([dns.close(), challenges.close()]);
    process.exit(code);
  };
  process.on('disconnect', () => void shutdown(0)); // the orchestrator is gone: never linger
  process.on('message', (m: ToLoad) => {
    if (m.type === 'exit') {
      void busy.finally(() => shutdown(0));
      return;
    }
    busy = busy.then(async () => {
      try {
        send(await runLoad(m, challenges));
      } catch (err) {
        send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    });
  });
  send({ type: 'ready', dnsPort: dns.port, challengePort: challenges.port });
}

main().catch((err) => {
  send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
