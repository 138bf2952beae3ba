// `overlan audit verify`: checks the assistance service's hash-chained audit log.
import { join } from 'node:path'
import type { CommandModule } from 'yargs'
import { AUDIT_FILE, verifyAuditLog } from '../assist/audit-log.js'
import { CliError } from './errors.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

export const auditCommand: CommandModule<object, { 'state-dir': string }> = {
  command: 'audit verify',
  describe: COMMAND_DESCRIPTIONS.audit,
  builder: (y) => y.option('state-dir', { type: 'string', default: process.getuid?.() === 0 ? '/var/lib/overlan' : '.overlan-assist', describe: 'the service state directory' }),
  handler: async (args) => {
    const path = join(args['state-dir'], AUDIT_FILE)
    let result
    try {
      result = await verifyAuditLog(path)
    } catch (err) {
      throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (!result.ok) throw new CliError(`${path}: line ${result.line}: ${result.problem}`, 3)
    process.stdout.write(`${path}: ${result.records} records, chain intact\n`)
  },
}
