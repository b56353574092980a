import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type GatewayConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the configuration. This module is the only reader of process.env in the
 * gateway: credentials may come from NCP_ACCESS_KEY / NCP_SECRET_KEY and the PostgreSQL password
 * from PGPASSWORD, so they stay out of files.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
    }
  }
  return parseConfig(raw, env, path ?? '(embedded defaults)');
}

/** A configuration given on the command line (admin commands), with the environment's credentials. */
export function configFromEnvironment(raw: unknown, source = 'command line'): GatewayConfig {
  return parseConfig(raw, process.env, source);
}

export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, source = 'config'): GatewayConfig {
  const withEnv = applyEnv(raw, env);
  const result = configSchema.safeParse(withEnv);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.length ? issue.path.join('.') : '(top level)';
      const extra =
        issue.code === 'unrecognized_keys' ? ` (unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')})` : '';
      return `  ${key}: ${issue.message}${extra}`;
    });
    throw new ConfigError(`invalid configuration in ${source}:\n${lines.join('\n')}`);
  }
  return result.data;
}

function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const obj = raw as Record<string, unknown>;
  const pca = { ...((obj.pca as Record<string, unknown> | undefined) ?? {}) };
  if (env.NCP_ACCESS_KEY && pca.accessKey === undefined) pca.accessKey = env.NCP_ACCESS_KEY;
  if (env.NCP_SECRET_KEY && pca.secretKey === undefined) pca.secretKey = env.NCP_SECRET_KEY;
  const out = Object.keys(pca).length ? { ...obj, pca } : obj;
  const storage = obj.storage as Record<string, unknown> | undefined;
  // PGPASSWORD (libpq's variable) is the fallback: a password the configuration gives, in the URL
  // or through postgresPassword(File), wins over the environment.
  if (env.PGPASSWORD && storage && typeof storage.postgres === 'string' && !urlHasPassword(storage.postgres)) {
    if (storage.postgresPassword === undefined && storage.postgresPasswordFile === undefined) {
      return { ...out, storage: { ...storage, postgresPassword: env.PGPASSWORD } };
    }
  }
  return out;
}

function urlHasPassword(url: string): boolean {
  return URL.canParse(url) && new URL(url).password !== '';
}
