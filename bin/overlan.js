#!/usr/bin/env node
// Entry point of the `overlan` command: runs the compiled CLI (npm ci builds it into dist/).
import { main } from '../dist/cli/main.js'

main(process.argv).catch((err) => {
  // one line, never a stack trace; CliError carries the exit code (2: device or host settings)
  process.stderr.write(`overlan: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1)
})
