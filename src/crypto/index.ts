// All of overlan's cryptography, on sodium-native only.
export * from './secret.js'
export * from './keys.js'
export * from './sign.js'
export * from './record.js'
export * from './aead.js'
export * from './replay.js'
export * from './cookie.js'
export * from './secure-memory.js'
