// Member certificates (protocol v2): size, and how fast a supernode can check a fresh one, against
// sodium's raw Ed25519 verify of a message of the same length in the same run. A fresh registration
// in v2 costs the certificate check plus the member's own signature over the cookie (a second
// Ed25519 verify), and the issue's target for it is ≥ 0.35 × raw verify: so the certificate check
// alone must stay near raw (target ≥ 0.9), leaving the rest of the registration its share.
import sodium from 'sodium-native'
import { generateAuthority, generateIdentity, issueCertificate, verifyCertificate } from '../../src/crypto/index.js'
import { MAX_CERTIFICATE_BYTES, MAX_CERTIFICATE_NAME_BYTES, decodeCertificate, type CertificateFields } from '../../src/wire/index.js'
import { RUNS, opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'

const NOW = 1_800_000_000

export function certificatesSection(): Promise<Figure[]> {
  const authority = generateAuthority()
  const fields: Omit<CertificateFields, 'authorityKey'> = {
    role: 'technician',
    serial: 42,
    notBefore: NOW,
    notAfter: NOW + 8 * 3600,
    memberKey: generateIdentity().publicKey,
    mac: Buffer.from('02aabbccddee', 'hex'),
    ipv4: { address: '10.9.0.5', prefix: 24 },
    ipv6: null,
    name: 'Anna (support)',
  }
  const typical = issueCertificate(authority, fields)
  const largest = issueCertificate(authority, { ...fields, name: 'n'.repeat(MAX_CERTIFICATE_NAME_BYTES), ipv6: { address: 'fd00:9::5', prefix: 64 } })
  const options = { communityId: authority.communityId, nowSeconds: NOW + 1 }

  // raw: one verify of a detached signature over as many bytes as a certificate's signed message
  const message = Buffer.alloc(typical.length - 64 + 'overlan-certificate-v1\0'.length, 0x5a)
  const signature = Buffer.alloc(64)
  sodium.crypto_sign_detached(signature, message, authority.secretKey)
  const verifyRaw = (): void => void sodium.crypto_sign_verify_detached(signature, message, authority.publicKey)
  const verifyFresh = (): void => {
    const decoded = decodeCertificate(typical)
    if (!decoded.ok || !verifyCertificate(decoded.value, options).ok) throw new Error('benchmark certificate refused')
  }
  // the two alternate, run by run: on a shared machine the load drifts, and a ratio of samples
  // taken minutes apart would measure the drift
  const rawSamples: number[] = []
  const freshSamples: number[] = []
  for (let run = 0; run < RUNS; run++) {
    rawSamples.push(...opsPerSecond(verifyRaw, 0.3, 1))
    freshSamples.push(...opsPerSecond(verifyFresh, 0.3, 1))
  }
  const raw = summarize('raw Ed25519 verify', 'ops/s', rawSamples)
  const fresh = freshSamples
  const decodeOnly = opsPerSecond(() => void decodeCertificate(typical), 0.15)
  const issue = opsPerSecond(() => void issueCertificate(authority, fields), 0.15)
  return Promise.resolve([
    summarize('certificate size, typical (14-byte name, no IPv6)', 'bytes', [typical.length]),
    summarize(`certificate size, largest (${MAX_CERTIFICATE_NAME_BYTES}-byte name, IPv6)`, 'bytes', [largest.length], { target: '≤ 300 bytes', met: largest.length === MAX_CERTIFICATE_BYTES && largest.length <= 300 }),
    raw,
    withBaseline(summarize('decode + verify a fresh certificate', 'ops/s', fresh), raw, { ratio: 0.9 }),
    summarize('decode a certificate', 'ops/s', decodeOnly),
    summarize('issue (sign) a certificate', 'ops/s', issue),
  ])
}
