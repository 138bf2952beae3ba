// Signatures on announcements, deregistrations, certificates, revocations and session receipts. Each message is prefixed with a context string
// so that a signature made for one purpose can never be replayed as another.
import sodium from 'sodium-native'

export const SIGNATURE_CONTEXT = {
  announcement: Buffer.from('overlan-announcement-v2\0'),
  deregister: Buffer.from('overlan-deregister-v1\0'),
  certificate: Buffer.from('overlan-certificate-v1\0'),
  revocation: Buffer.from('overlan-revocation-v1\0'),
  receipt: Buffer.from('overlan-receipt-v1\0'),
} as const
export type SignatureContext = keyof typeof SIGNATURE_CONTEXT

export function sign(context: SignatureContext, message: Buffer, secretKey: Buffer): Buffer {
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(signature, Buffer.concat([SIGNATURE_CONTEXT[context], message]), secretKey)
  return signature
}

export function verify(context: SignatureContext, message: Buffer, signature: Buffer, publicKey: Buffer): boolean {
  if (signature.length !== sodium.crypto_sign_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) return false
  return sodium.crypto_sign_verify_detached(signature, Buffer.concat([SIGNATURE_CONTEXT[context], message]), publicKey)
}
