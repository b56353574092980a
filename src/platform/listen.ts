/** "host:port" or "[v6]:port" → parts, for listeners configured as one string. */
export function splitListenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`"${value}" is not "host:port"`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}
