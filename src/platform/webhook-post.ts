// The webhook sender's one contact with the network: a JSON POST with a timeout. Injected into the
// notify job (jobs/notify.ts) so tests can count and fail deliveries without a socket.

export type PostJson = (url: string, body: string, headers: Record<string, string>, timeoutMs: number) => Promise<{ status: number }>;

export const fetchPostJson: PostJson = async (url, body, headers, timeoutMs) => {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  await res.body?.cancel().catch(() => undefined); // the answer's body is not read; free the socket
  return { status: res.status };
};
