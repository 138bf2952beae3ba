// Key derivation. From a community name and its secret (a generated key or a passphrase), every
// edge derives the same community signing key pair, whose public key hashes to the community ID the
// supernode sees. In a shared-secret community that key pair is the authority that issues member
// certificates (authorityOf), so every holder of the secret can issue one; with `overlan ca` the
// authority is a key pair of its own, and the community ID is the hash of its public key all the
// same (certificate.ts checks that one way). There is no shared data key any more (protocol v1 had
// one): every pair of edges runs its own Noise session (noise-session.ts). Each edge's identity key
// hashes to its edge ID. Every secret here lives in secret memory (secure-memory.ts) and is zeroed
// when its session ends.
import sodium from 'sodium-native'
import { destroySecret, secretBuffer, secretMemory } from './secure-memory.js'

export const COMMUNITY_ID_BYTES = 16

/** Argon2id cost: libsodium's "interactive" limits (2 passes, 64 MiB), about 0.1 s once per start. */
const PWHASH_OPSLIMIT = sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE
const PWHASH_MEMLIMIT = sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE
/** Context for crypto_kdf: exactly 8 bytes, and a new one whenever the derivation changes. */
const KDF_CONTEXT = Buffer.from('overlan1')
// subkey 2 was protocol v1's shared data key: never derived again
const SUBKEY_SIGN_SEED = 1
const SALT_CONTEXT = 'overlan-community-salt-v1\0'

export const MAX_COMMUNITY_BYTES = 64

export interface CommunityKeys {
  /** BLAKE2b-128 of signPublicKey: the only name the supernode knows the community by */
  communityId: Buffer
  signPublicKey: Buffer
  /** in secret memory */
  signSecretKey: Buffer
}

export interface EdgeIdentity {
  publicKey: Buffer
  /** in secret memory */
  secretKey: Buffer
  edgeId: number
}

/**
 * Derives a community's keys. The community name is the Argon2id salt (through BLAKE2b), so the same
 * secret in two communities gives unrelated keys. Throws RangeError on an empty name or secret.
 * A secret given as bytes is left as it is (its owner destroys it); one given as a string is copied
 * into secret memory for the derivation and that copy zeroed, but the string itself cannot be.
 */
export async function deriveCommunityKeys(community: string, secret: string | Uint8Array): Promise<CommunityKeys> {
  if (community.length === 0 || Buffer.byteLength(community) > MAX_COMMUNITY_BYTES) {
    throw new RangeError(`community name must be 1 to ${MAX_COMMUNITY_BYTES} bytes`)
  }
  if (secret.length === 0) throw new RangeError('the key must not be empty')
  const salt = Buffer.alloc(sodium.crypto_pwhash_SALTBYTES)
  sodium.crypto_generichash(salt, Buffer.from(SALT_CONTEXT + community))
  const root = secretBuffer(sodium.crypto_kdf_KEYBYTES)
  const passwd = typeof secret === 'string' ? secretMemory.copyOf(secret) : secret
  try {
    await sodium.crypto_pwhash_async(root, passwd, salt, PWHASH_OPSLIMIT, PWHASH_MEMLIMIT, sodium.crypto_pwhash_ALG_ARGON2ID13)
  } finally {
    if (passwd !== secret) destroySecret(passwd)
  }

  const seed = secretBuffer(sodium.crypto_sign_SEEDBYTES)
  sodium.crypto_kdf_derive_from_key(seed, SUBKEY_SIGN_SEED, KDF_CONTEXT, root)
  destroySecret(root)

  const signPublicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const signSecretKey = secretBuffer(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(signPublicKey, signSecretKey, seed)
  destroySecret(seed)
  return { communityId: communityIdOf(signPublicKey), signPublicKey, signSecretKey }
}

export function communityIdOf(signPublicKey: Buffer): Buffer {
  const id = Buffer.alloc(COMMUNITY_ID_BYTES)
  sodium.crypto_generichash(id, signPublicKey)
  return id
}

/** First 53 bits of BLAKE2b-256 of the edge's public key: a plain JavaScript number. */
export function edgeIdOf(edgePublicKey: Buffer): number {
  const hash = Buffer.alloc(32)
  sodium.crypto_generichash(hash, edgePublicKey)
  return (hash.readUInt32BE(0) & 0x1fffff) * 4294967296 + hash.readUInt32BE(4)
}

export function generateEdgeIdentity(): EdgeIdentity {
  for (;;) {
    const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
    const secretKey = secretBuffer(sodium.crypto_sign_SECRETKEYBYTES)
    sodium.crypto_sign_keypair(publicKey, secretKey)
    const edgeId = edgeIdOf(publicKey)
    // 0 means "every member" on the wire; the chance is 2^-53, but it must never be an edge's ID
    if (edgeId !== 0) return { publicKey, secretKey, edgeId }
    destroySecret(secretKey)
  }
}

/**
 * The authority of a shared-secret community: its signing key pair, which every holder of the
 * secret derives, so every holder can issue certificates. Not a copy: destroyKeys zeroes it too.
 */
export function authorityOf(keys: CommunityKeys): Authority {
  return { publicKey: keys.signPublicKey, secretKey: keys.signSecretKey, communityId: keys.communityId }
}

/** A key pair that signs member certificates and revocations; BLAKE2b-128 of its public key is the community ID. */
export interface Authority {
  publicKey: Buffer
  /** in secret memory */
  secretKey: Buffer
  communityId: Buffer
}

/** Zeroes a community's secret keys when the session that used them ends. */
export function destroyKeys(keys: CommunityKeys): void {
  destroySecret(keys.signSecretKey)
}

/**
 * What an edge destroys when it stops: its identity key, and the community keys it derived itself.
 * Keys it was handed (`handedIn`, EdgeConfig.keys) belong to whoever derived them, who may share
 * them with other edges: that owner destroys them.
 */
export function destroyEdgeKeys(identity: EdgeIdentity, keys: CommunityKeys, handedIn: CommunityKeys | undefined): void {
  destroySecret(identity.secretKey)
  if (keys !== handedIn) destroyKeys(keys)
}
