//! Direct mu-law <-> A-law transcoding tables (ITU-T G.711, Tables 3 and 4).
//!
//! G.711 defines the conversions by table, not as decode-then-encode (which
//! differs on dozens of codes). The tables are stated here in sign-magnitude
//! form, indexed by magnitude index (0 = smallest level): `U2A_MAG[i] - 1`
//! is the A-law magnitude index for mu-law index `i`; `A2U_MAG[i]` is the
//! mu-law index for A-law index `i` (mu-law index 0 is the zero level, which
//! A-law lacks). The mu->A entry at index 80 carries the 1994 erratum (80,
//! not 81) that corrected the widely copied Sun Microsystems table.

const U2A_MAG: [u8; 128] = [
    1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, //
    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, //
    25, 27, 29, 31, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, //
    46, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, //
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, //
    80, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, //
    97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, //
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128,
];

const A2U_MAG: [u8; 128] = [
    1, 3, 5, 7, 9, 11, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, //
    24, 25, 26, 27, 28, 29, 30, 31, 32, 32, 33, 33, 34, 34, 35, 35, //
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 48, 49, 49, //
    50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 64, //
    65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 79, //
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, //
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, //
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
];

// On the wire, mu-law magnitude index i is `!i` (0xFF ^ i positive, 0x7F ^ i
// negative); A-law is `i ^ 0xD5` positive, `i ^ 0x55` negative (even bits
// inverted).
const fn build_u2a() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let code = c as u8;
        t[c] = if code & 0x80 != 0 {
            0xD5 ^ (U2A_MAG[(0xFF ^ code) as usize] - 1)
        } else {
            0x55 ^ (U2A_MAG[(0x7F ^ code) as usize] - 1)
        };
        c += 1;
    }
    t
}

const fn build_a2u() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let code = c as u8;
        t[c] = if code & 0x80 != 0 {
            0xFF ^ A2U_MAG[(code ^ 0xD5) as usize]
        } else {
            0x7F ^ A2U_MAG[(code ^ 0x55) as usize]
        };
        c += 1;
    }
    t
}

/// mu-law code -> A-law code.
pub(crate) static ULAW_TO_ALAW: [u8; 256] = build_u2a();
/// A-law code -> mu-law code.
pub(crate) static ALAW_TO_ULAW: [u8; 256] = build_a2u();
