// `overlan receipt verify FILE`: checks a session receipt the device signed (the technician's copy,
// or one from the device's state directory) and says who, when and why; with --audit-log, also
// whether the device's audit log still agrees with it.
import { readFile } from 'node:fs/promises'
import type { CommandModule } from 'yargs'
import { parseFingerprint } from '../crypto/identity.js'
import { checkAuditAgainstReceipt } from '../assist/receipt-audit.js'
import { saveDeliveredReceipt } from '../assist/receipt-store.js'
import type { Edge } from '../edge/edge.js'
import type { Logger } from '../log/logger.js'
import { MAX_RECEIPT_BYTES, describeReceipt, verifyReceipt } from '../assist/receipt.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'
import { CliError } from './errors.js'

/** The receipt does not verify, or the audit log disagrees with it (as `overlan audit verify` uses 3 for a broken chain). */
export const EXIT_RECEIPT_REFUSED = 3

interface ReceiptArgs {
  file: string
  key?: string
  'audit-log'?: string
}

export const receiptCommand: CommandModule<object, ReceiptArgs> = {
  command: 'receipt verify <file>',
  describe: COMMAND_DESCRIPTIONS.receipt,
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the receipt (a technician\'s edge saves it in --receipt-dir; the device keeps them in STATE_DIR/receipts/)' })
      .option('key', { type: 'string', describe: "the device key's fingerprint it must be signed by (the join token's and the console's); without it, the key inside is used and its fingerprint printed for you to compare" })
      .option('audit-log', { type: 'string', describe: "the device's audit log (STATE_DIR/audit.log): check that it still holds the records the receipt's head names, unchanged" })
      .epilog(`Exit codes: 1 bad options or unreadable file; ${EXIT_RECEIPT_REFUSED} the receipt does not verify, or the audit log disagrees with it.`),
  handler: async (args) => {
    if (args.key !== undefined && parseFingerprint(args.key) === null) throw new CliError(`--key: "${args.key}" is not a key fingerprint (32 letters and digits 2-7)`)
    const text = await readText(args.file)
    const check = verifyReceipt(text, args.key)
    if (!check.ok) throw new CliError(`${args.file}: ${check.reason}`, EXIT_RECEIPT_REFUSED)
    const lines = describeReceipt(check.receipt)
    lines.push(args.key !== undefined ? 'signature good, by the key you named' : 'signature good, by the device key named above: compare its fingerprint with the one the console or the join token showed')
    process.stdout.write(lines.join('\n') + '\n')
    const log = args['audit-log']
    if (log === undefined) return
    let agreement
    try {
      agreement = await checkAuditAgainstReceipt(log, check.receipt.auditHead)
    } catch (err) {
      throw new CliError(`--audit-log: cannot read ${log}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (!agreement.ok) throw new CliError(`${log} disagrees with the receipt: ${agreement.reason}`, EXIT_RECEIPT_REFUSED)
    process.stdout.write(`${log} agrees with the receipt up to record ${check.receipt.auditHead.seq}\n`)
  },
}

/** `overlan edge --receipt-dir DIR`: every receipt a peer (the device) hands over is checked and saved in DIR. */
export function keepReceipts(edge: Edge, dir: string, logger: Logger): void {
  edge.on('receipt', (text, from) => {
    saveDeliveredReceipt(dir, text, from.publicKey).then(
      (saved) => {
        if (saved.ok) logger.info(`the device's receipt of session ${saved.sessionId} is in ${saved.path}: check it with overlan receipt verify ${saved.path}`)
        else logger.warn(`a receipt from ${JSON.stringify(from.name)} (${from.fingerprint}) was not saved: ${saved.reason}`)
      },
      (err: unknown) => logger.error(`cannot save the device's receipt in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`),
    )
  })
}

async function readText(path: string): Promise<string> {
  try {
    const buf = await readFile(path)
    if (buf.length > MAX_RECEIPT_BYTES) throw new CliError(`${path}: larger than ${MAX_RECEIPT_BYTES} bytes: not a receipt`, EXIT_RECEIPT_REFUSED)
    return buf.toString('utf8')
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}
