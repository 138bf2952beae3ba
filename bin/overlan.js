#!/usr/bin/env node
// Entry point of the `overlan` command: runs the compiled CLI (npm ci builds it into dist/).
import { main } from '../dist/cli/main.js'

main(process.argv).catch((err) => {
  process.stderr.write(`overlan: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
