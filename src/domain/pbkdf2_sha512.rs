//! PBKDF2-HMAC-SHA512, the hot loop specialised for wasm32 (equal to
//! `pbkdf2::pbkdf2_hmac::<sha2::Sha512>` for every input; the tests compare them).
//!
//! Why not only the crate: in the Worker the generic RustCrypto path (HMAC over `digest`
//! over `block-buffer`, instantiated in this opt-level "z" crate) runs at 1.8× native
//! OpenSSL; this loop runs at about 1× (BENCHMARKS.md, "PBKDF2"). Each iteration is two
//! SHA-512 compressions of one block whose padding words are constants, on `[u64; 8]` words,
//! with no byte conversion and no buffering. The set-up (key blocks, the first block `U1`)
//! uses `sha2::compress512`; PHC strings, other algorithms and the constant-time comparison
//! stay with the `pbkdf2` and `password-hash` crates (`domain::password`).
//!
//! Keep it non-generic and loop-free in the rounds: generic code is compiled at the
//! opt-level of the crate that instantiates it, and at opt-level "z" LLVM keeps loops rolled
//! and small arrays in memory.

use sha2::digest::generic_array::GenericArray;

#[rustfmt::skip]
const IV: [u64; 8] = [
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
];

#[rustfmt::skip]
const K: [u64; 80] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

/// SHA-512 compression of the single padded block holding a 64-byte message that follows
/// one 128-byte block (the HMAC key block): words 8..16 are constants. Fully unrolled.
#[inline(always)]
fn compress_after_key(state: &mut [u64; 8], m: &[u64; 8]) {
    let mut w = [
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        m[6],
        m[7],
        0x8000_0000_0000_0000,
        0,
        0,
        0,
        0,
        0,
        0,
        (128 + 64) * 8,
    ];
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    // Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)); this round's b ^ c is the last round's a ^ b.
    let mut bc = b ^ c;

    macro_rules! round {
        ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $i:expr) => {{
            let i: usize = $i;
            if i >= 16 {
                let w1 = w[(i + 1) & 15];
                let w14 = w[(i + 14) & 15];
                let s0 = w1.rotate_right(1) ^ w1.rotate_right(8) ^ (w1 >> 7);
                let s1 = w14.rotate_right(19) ^ w14.rotate_right(61) ^ (w14 >> 6);
                w[i & 15] = w[i & 15]
                    .wrapping_add(s0)
                    .wrapping_add(w[(i + 9) & 15])
                    .wrapping_add(s1);
            }
            let t1 = $h
                .wrapping_add($e.rotate_right(14) ^ $e.rotate_right(18) ^ $e.rotate_right(41))
                .wrapping_add($g ^ ($e & ($f ^ $g)))
                .wrapping_add(K[i].wrapping_add(w[i & 15]));
            let ab = $a ^ $b;
            let maj = $b ^ (ab & bc);
            bc = ab;
            let t2 = ($a.rotate_right(28) ^ $a.rotate_right(34) ^ $a.rotate_right(39))
                .wrapping_add(maj);
            $d = $d.wrapping_add(t1);
            $h = t1.wrapping_add(t2);
        }};
    }
    macro_rules! rounds8 {
        ($i:expr) => {
            round!(a, b, c, d, e, f, g, h, $i);
            round!(h, a, b, c, d, e, f, g, $i + 1);
            round!(g, h, a, b, c, d, e, f, $i + 2);
            round!(f, g, h, a, b, c, d, e, $i + 3);
            round!(e, f, g, h, a, b, c, d, $i + 4);
            round!(d, e, f, g, h, a, b, c, $i + 5);
            round!(c, d, e, f, g, h, a, b, $i + 6);
            round!(b, c, d, e, f, g, h, a, $i + 7);
        };
    }
    rounds8!(0);
    rounds8!(8);
    rounds8!(16);
    rounds8!(24);
    rounds8!(32);
    rounds8!(40);
    rounds8!(48);
    rounds8!(56);
    rounds8!(64);
    rounds8!(72);
    let _ = bc;

    // Written out (no loops): at opt-level "z" LLVM keeps loops rolled and arrays in memory.
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
    state[4] = state[4].wrapping_add(e);
    state[5] = state[5].wrapping_add(f);
    state[6] = state[6].wrapping_add(g);
    state[7] = state[7].wrapping_add(h);
}

/// `n` PBKDF2 iterations: `u = HMAC(u)`, `acc ^= u`, from the precomputed key states.
///
/// Its own function, called once per chunk from two call sites (so wasm-opt does not inline
/// it): V8 has no on-stack replacement for wasm, and a single call running all iterations
/// would stay in the Liftoff baseline code (about 1 s) on the first hash of an isolate.
#[inline(never)]
fn iterate(istate: &[u64; 8], ostate: &[u64; 8], u: &mut [u64; 8], acc: &mut [u64; 8], n: u32) {
    let mut v = *u;
    let mut x = *acc;
    for _ in 0..n {
        let mut inner = *istate;
        compress_after_key(&mut inner, &v);
        v = *ostate;
        compress_after_key(&mut v, &inner);
        x[0] ^= v[0];
        x[1] ^= v[1];
        x[2] ^= v[2];
        x[3] ^= v[3];
        x[4] ^= v[4];
        x[5] ^= v[5];
        x[6] ^= v[6];
        x[7] ^= v[7];
    }
    *u = v;
    *acc = x;
}

fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
    sha2::compress512(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

/// SHA-512 from a state that has already absorbed `blocks` whole blocks (set-up only).
struct Sha512From {
    state: [u64; 8],
    buf: [u8; 128],
    len: usize,
    total: u128,
}

impl Sha512From {
    fn new(state: [u64; 8], blocks: u128) -> Self {
        Self {
            state,
            buf: [0; 128],
            len: 0,
            total: blocks * 128,
        }
    }
    fn update(&mut self, data: &[u8]) {
        for &byte in data {
            self.buf[self.len] = byte;
            self.len += 1;
            if self.len == 128 {
                compress(&mut self.state, &self.buf);
                self.len = 0;
            }
        }
        self.total += data.len() as u128;
    }
    fn finish(mut self) -> [u64; 8] {
        let bits = self.total * 8;
        self.update(&[0x80]);
        while self.len != 112 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        self.state
    }
}

/// PBKDF2-HMAC-SHA512 (RFC 8018) of any password, salt and output length. `rounds` 0
/// counts as 1, as in the `pbkdf2` crate (a PHC string may say `i=0`; nothing panics).
pub fn derive(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    let mut key = [0u8; 128];
    if password.len() > 128 {
        let mut h = Sha512From::new(IV, 0);
        h.update(password);
        for (k, w) in key.chunks_exact_mut(8).zip(h.finish()) {
            k.copy_from_slice(&w.to_be_bytes());
        }
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let (mut ipad, mut opad) = ([0u8; 128], [0u8; 128]);
    for i in 0..128 {
        ipad[i] = key[i] ^ 0x36;
        opad[i] = key[i] ^ 0x5c;
    }
    let (mut istate, mut ostate) = (IV, IV);
    compress(&mut istate, &ipad);
    compress(&mut ostate, &opad);

    for (i, chunk) in out.chunks_mut(64).enumerate() {
        // U1 = HMAC(password, salt || INT(i + 1))
        let mut inner = Sha512From::new(istate, 1);
        inner.update(salt);
        inner.update(&(i as u32 + 1).to_be_bytes());
        let inner = inner.finish();
        let mut outer = Sha512From::new(ostate, 1);
        for w in inner {
            outer.update(&w.to_be_bytes());
        }
        let mut u = outer.finish();
        let mut acc = u;

        const CHUNK: u32 = 1024;
        let n = rounds.saturating_sub(1);
        for _ in 0..n / CHUNK {
            iterate(&istate, &ostate, &mut u, &mut acc, CHUNK);
        }
        iterate(&istate, &ostate, &mut u, &mut acc, n % CHUNK);

        for (o, b) in chunk
            .iter_mut()
            .zip(acc.iter().flat_map(|w| w.to_be_bytes()))
        {
            *o = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::derive;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn run(p: &[u8], s: &[u8], rounds: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        derive(p, s, rounds, &mut out);
        hex(&out)
    }

    fn reference(p: &[u8], s: &[u8], rounds: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(p, s, rounds, &mut out);
        hex(&out)
    }

    #[test]
    fn published_vectors() {
        // RFC 6070-style vectors for HMAC-SHA512 (as published for PBKDF2-HMAC-SHA512).
        assert_eq!(run(b"password", b"salt", 1, 64), "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
        assert_eq!(run(b"password", b"salt", 2, 64), "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53cf76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e");
        assert_eq!(run(b"password", b"salt", 4096, 64), "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5");
        assert_eq!(run(b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 64), "8c0511f4c6e597c6ac6315d8f0362e225f3c501495ba23b868c005174dc4ee71115b59f9e60cd9532fa33e0f75aefe30225c583a186cd82bd4daea9724a3d3b8");
    }

    #[test]
    fn openssl_at_our_parameters() {
        // OpenSSL 3.5 (Node 22 `crypto.pbkdf2Sync`): 210,000 rounds, 16-byte salt, 32 bytes.
        let salt: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            run(b"correct horse battery staple", &salt, 210_000, 32),
            "b5f3fa7459cc14b9bce1eac5142fe1583cdbe9f02300f080b3446f24b8aee716"
        );
        // A password longer than a block (hashed into the key), a salt over one block, and
        // two output blocks.
        assert_eq!(run(&[0x61; 200], &[0x62; 150], 3, 100), "0827d993c8d269bdb308b52432b8a4cc3c4943ced202081ec07b1aa1fe77a122e2469e01f8e589f1db23934812a9d68b3213455ed672f9138111fa22eed6cb87fa940379cc837c055eb9ce555fc489842abff5667349e58d26ccbc86c5f2708e212f8ecf");
    }

    #[test]
    fn chunk_edges_and_zero_rounds_match_the_crate() {
        // Iterations are run in chunks of 1,024: either side of a chunk edge, and 0 rounds
        // (counted as 1, like the crate).
        for rounds in [0, 1, 2, 1_024, 1_025, 1_026, 2_049, 3_073] {
            assert_eq!(
                run(b"pw", b"salt", rounds, 32),
                reference(b"pw", b"salt", rounds, 32),
                "rounds {rounds}"
            );
        }
    }
}

#[cfg(test)]
mod props {
    use super::derive;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn equals_the_pbkdf2_crate(
            password in prop::collection::vec(any::<u8>(), 0..300),
            salt in prop::collection::vec(any::<u8>(), 0..300),
            rounds in 0u32..2_100,
            len in 1usize..200,
        ) {
            let mut want = vec![0u8; len];
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&password, &salt, rounds, &mut want);
            let mut got = vec![0u8; len];
            derive(&password, &salt, rounds, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
