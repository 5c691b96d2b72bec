// Prints a new Ed25519 signing seed for JWT_PRIVATE_KEY (base64url, 32 bytes), and its
// public key, to list in JWT_PREVIOUS_PUBLIC_KEYS once this key is rotated out.
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";

const seed = randomBytes(32);
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
const publicJwk = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }))
  .export({ format: "jwk" });
console.log(`JWT_PRIVATE_KEY=${seed.toString("base64url")}`);
console.log(`public key (keep in JWT_PREVIOUS_PUBLIC_KEYS after rotating this key out): ${publicJwk.x}`);
