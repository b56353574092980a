#!/usr/bin/env node
// Entry point: `acme-pca-gateway <command>`. Commands live in cli/; this file only dispatches.
import 'reflect-metadata';
import { runCli } from './cli/index.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`acme-pca-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
