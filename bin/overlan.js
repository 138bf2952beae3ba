#!/usr/bin/env node
// Entry point of the `overlan` command: runs the compiled CLI (npm ci builds it into dist/).
import { main } from '../dist/cli/main.js'

/** @param {unknown} err */
function fail(err) {
  // one line, never a stack trace; CliError carries the exit code (2: device or host settings)
  const message = err instanceof Error ? err.message : String(err)
  const code = err instanceof Error && 'exitCode' in err && typeof err.exitCode === 'number' ? err.exitCode : 1
  process.stderr.write(`overlan: ${message}\n`)
  process.exit(code)
}

main(process.argv).catch(fail)
