#!/usr/bin/env node
import { buildProgram } from './program.js';
import { TlsentryError } from '../shared/errors.js';

async function main(): Promise<void> {
  try {
    await (await buildProgram(process.argv)).parseAsync(process.argv);
  } catch (err) {
    if (err instanceof TlsentryError) {
      process.stderr.write(`tlsentry: ${err.code}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

void main();
