//! ITU-T G.711 mu-law and A-law, bit-exact with the G.191 reference on all
//! 65,536 inputs and 256 codes, vectorised per instruction set.
//!
//! Slice functions write into caller buffers and never allocate; the
//! `*_vec` conveniences allocate the output. Lengths must match exactly.
//!
//! ```
//! use teledsp::g711;
//! let pcm = [0i16, 1000, -1000, 32767, -32768];
//! let mut codes = [0u8; 5];
//! g711::ulaw_encode(&pcm, &mut codes)?;
//! assert_eq!(codes, [0xFF, 0xCE, 0x4E, 0x80, 0x00]);
//! let mut back = [0i16; 5];
//! g711::ulaw_decode(&codes, &mut back)?;
//! assert_eq!(back, [0, 988, -988, 32124, -32124]);
//! # Ok::<(), teledsp::Error>(())
//! ```

mod lanes;
mod scalar;
mod tables;
#[cfg(target_arch = "x86_64")]
mod x86_v3;
#[cfg(target_arch = "x86_64")]
mod x86_v4;

use crate::error::{Error, check_len};
use crate::isa::Isa;

pub use scalar::{
    alaw_decode_sample, alaw_encode_sample, ulaw_decode_sample, ulaw_encode_audioop_sample, ulaw_encode_sample,
};

/// Branch-free G.711 mu-law encode of one sample, for fused kernels.
#[cfg_attr(not(feature = "resample"), allow(dead_code))]
#[inline(always)]
pub(crate) fn encode_fast_ulaw(x: i16) -> u8 {
    lanes::encode_one::<{ Enc::ULAW }>(x)
}

/// Branch-free G.711 A-law encode of one sample, for fused kernels.
#[cfg_attr(not(any(feature = "resample", feature = "audioop")), allow(dead_code))]
#[inline(always)]
pub(crate) fn encode_fast_alaw(x: i16) -> u8 {
    lanes::encode_one::<{ Enc::ALAW }>(x)
}

/// Encoder flavours, as const-generic parameters of the kernels.
pub(crate) struct Enc;
impl Enc {
    pub(crate) const ULAW: u8 = 0;
    pub(crate) const ULAW_AUDIOOP: u8 = 1;
    pub(crate) const ALAW: u8 = 2;
}

/// The G.711 kernels of one instruction set. The free functions of this
/// module use the best one for this CPU; tests and benchmarks pick one.
///
/// ```
/// use teledsp::{g711::Kernels, Isa};
/// let scalar = Kernels::new(Isa::Scalar)?;
/// let best = Kernels::detect();
/// let pcm: Vec<i16> = (-500..500).map(|x| x * 64).collect();
/// let (mut a, mut b) = (vec![0u8; pcm.len()], vec![0u8; pcm.len()]);
/// scalar.alaw_encode(&pcm, &mut a)?;
/// best.alaw_encode(&pcm, &mut b)?;
/// assert_eq!(a, b);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
}

impl Kernels {
    /// The fastest kernels for this CPU.
    #[inline]
    pub fn detect() -> Self {
        Kernels { isa: Isa::detect() }
    }

    /// The kernels of `isa`, or `Error::IsaUnavailable` if this CPU lacks it.
    pub fn new(isa: Isa) -> Result<Self, Error> {
        Ok(Kernels { isa: isa.require()? })
    }

    /// The instruction set these kernels run on.
    pub fn isa(self) -> Isa {
        self.isa
    }

    /// G.711 mu-law encode. `dst.len()` must equal `src.len()`.
    pub fn ulaw_encode(self, src: &[i16], dst: &mut [u8]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.encode::<{ Enc::ULAW }>(src, dst);
        Ok(())
    }

    /// mu-law encode byte-for-byte as CPython's `audioop.lin2ulaw` (width 2).
    /// It differs from G.711 on 508 negative inputs; use it only to replace
    /// `audioop` output exactly. `dst.len()` must equal `src.len()`.
    pub fn ulaw_encode_audioop(self, src: &[i16], dst: &mut [u8]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.encode::<{ Enc::ULAW_AUDIOOP }>(src, dst);
        Ok(())
    }

    /// G.711 A-law encode. `dst.len()` must equal `src.len()`.
    pub fn alaw_encode(self, src: &[i16], dst: &mut [u8]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.encode::<{ Enc::ALAW }>(src, dst);
        Ok(())
    }

    /// G.711 mu-law decode. `dst.len()` must equal `src.len()`.
    pub fn ulaw_decode(self, src: &[u8], dst: &mut [i16]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.decode::<{ Enc::ULAW }>(src, dst);
        Ok(())
    }

    /// G.711 A-law decode. `dst.len()` must equal `src.len()`.
    pub fn alaw_decode(self, src: &[u8], dst: &mut [i16]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.decode::<{ Enc::ALAW }>(src, dst);
        Ok(())
    }

    /// mu-law -> A-law by the G.711 conversion table. `dst.len()` must equal `src.len()`.
    pub fn ulaw_to_alaw(self, src: &[u8], dst: &mut [u8]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.lookup(&tables::ULAW_TO_ALAW, src, dst);
        Ok(())
    }

    /// A-law -> mu-law by the G.711 conversion table. `dst.len()` must equal `src.len()`.
    pub fn alaw_to_ulaw(self, src: &[u8], dst: &mut [u8]) -> Result<(), Error> {
        check_len(src.len(), dst.len())?;
        self.lookup(&tables::ALAW_TO_ULAW, src, dst);
        Ok(())
    }

    #[inline]
    fn encode<const K: u8>(self, src: &[i16], dst: &mut [u8]) {
        match self.isa {
            // SAFETY (all arms): `Kernels` only holds an ISA whose
            // availability was checked when it was built.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86_v4::encode::<K>(src, dst) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86_v3::encode::<K>(src, dst) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon().vectorize(|| lanes::encode::<K>(src, dst)),
            _ => match K {
                Enc::ULAW => scalar::ulaw_encode(src, dst),
                Enc::ULAW_AUDIOOP => scalar::ulaw_encode_audioop(src, dst),
                _ => scalar::alaw_encode(src, dst),
            },
        }
    }

    #[inline]
    fn decode<const K: u8>(self, src: &[u8], dst: &mut [i16]) {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86_v4::decode::<K>(src, dst) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86_v3::decode::<K>(src, dst) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon().vectorize(|| lanes::decode::<K>(src, dst)),
            _ if K == Enc::ALAW => scalar::alaw_decode(src, dst),
            _ => scalar::ulaw_decode(src, dst),
        }
    }

    #[inline]
    fn lookup(self, table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if self.isa == Isa::Avx512 && x86_v4::has_vbmi() {
            // SAFETY: AVX-512 F/BW checked at construction, VBMI just now.
            unsafe { x86_v4::lookup(table, src, dst) };
            return;
        }
        // A 256-byte table stays in L1; AVX2 has no byte permute wide enough to beat it.
        scalar::lookup(table, src, dst);
    }
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn neon() -> pulp::aarch64::Neon {
    // SAFETY: only reached when `Kernels` was built with `Isa::Neon`, which
    // checked availability.
    unsafe { pulp::aarch64::Neon::new_unchecked() }
}

macro_rules! free_fns {
    ($($(#[$doc:meta])* $name:ident, $vec:ident: $src:ty => $dst:ty;)*) => {$(
        $(#[$doc])*
        /// Uses the fastest kernels for this CPU; errors if `dst.len() != src.len()`.
        #[inline]
        pub fn $name(src: &[$src], dst: &mut [$dst]) -> Result<(), Error> {
            Kernels::detect().$name(src, dst)
        }

        /// Allocating form of
        #[doc = concat!("[`", stringify!($name), "`].")]
        pub fn $vec(src: &[$src]) -> Vec<$dst> {
            let mut out = vec![<$dst>::default(); src.len()];
            Kernels::detect().$name(src, &mut out).expect("lengths match by construction");
            out
        }
    )*};
}

free_fns! {
    /// G.711 mu-law encode (i16 -> u8).
    ulaw_encode, ulaw_encode_vec: i16 => u8;
    /// mu-law encode byte-for-byte as CPython's `audioop.lin2ulaw` (not G.711 on 508 negative inputs).
    ulaw_encode_audioop, ulaw_encode_audioop_vec: i16 => u8;
    /// G.711 A-law encode (i16 -> u8).
    alaw_encode, alaw_encode_vec: i16 => u8;
    /// G.711 mu-law decode (u8 -> i16).
    ulaw_decode, ulaw_decode_vec: u8 => i16;
    /// G.711 A-law decode (u8 -> i16).
    alaw_decode, alaw_decode_vec: u8 => i16;
    /// mu-law -> A-law by the G.711 conversion table.
    ulaw_to_alaw, ulaw_to_alaw_vec: u8 => u8;
    /// A-law -> mu-law by the G.711 conversion table.
    alaw_to_ulaw, alaw_to_ulaw_vec: u8 => u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_formulation_equals_reference_on_every_input() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(lanes::encode_one::<{ Enc::ULAW }>(x), ulaw_encode_sample(x), "ulaw {x}");
            assert_eq!(lanes::encode_one::<{ Enc::ULAW_AUDIOOP }>(x), ulaw_encode_audioop_sample(x), "audioop {x}");
            assert_eq!(lanes::encode_one::<{ Enc::ALAW }>(x), alaw_encode_sample(x), "alaw {x}");
        }
        for c in 0..=255u8 {
            assert_eq!(lanes::decode_one::<{ Enc::ULAW }>(c), ulaw_decode_sample(c));
            assert_eq!(lanes::decode_one::<{ Enc::ALAW }>(c), alaw_decode_sample(c));
        }
    }

    #[test]
    fn lanes_block_kernels_match_scalar_with_tails() {
        let src: Vec<i16> = (0..1000).map(|i| (i * 7919 % 65536 - 32768) as i16).collect();
        for n in [0, 1, 15, 16, 17, 63, 65, 1000] {
            let mut a = vec![0u8; n];
            let mut b = vec![0u8; n];
            lanes::encode::<{ Enc::ALAW }>(&src[..n], &mut a);
            scalar::alaw_encode(&src[..n], &mut b);
            assert_eq!(a, b);
            let mut da = vec![0i16; n];
            let mut db = vec![0i16; n];
            lanes::decode::<{ Enc::ULAW }>(&a, &mut da);
            scalar::ulaw_decode(&a, &mut db);
            assert_eq!(da, db);
        }
    }

    #[test]
    fn transcoding_tables_keep_sign_and_order() {
        // Both tables map the sign bit through and are monotone in level.
        for c in 0..=255u8 {
            let a = tables::ULAW_TO_ALAW[c as usize];
            assert_eq!(c & 0x80, a & 0x80, "mu {c:#x}");
            let u = tables::ALAW_TO_ULAW[c as usize];
            assert_eq!(c & 0x80, u & 0x80, "A {c:#x}");
        }
        let mut by_level: Vec<u8> = (0..=255).collect();
        by_level.sort_by_key(|&c| ulaw_decode_sample(c));
        let levels: Vec<i16> = by_level.iter().map(|&c| alaw_decode_sample(tables::ULAW_TO_ALAW[c as usize])).collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]));
        let mut by_level: Vec<u8> = (0..=255).collect();
        by_level.sort_by_key(|&c| alaw_decode_sample(c));
        let levels: Vec<i16> = by_level.iter().map(|&c| ulaw_decode_sample(tables::ALAW_TO_ULAW[c as usize])).collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn transcoding_lands_within_one_step_of_the_source_level() {
        // Largest level gap either law has near a value: a mapped code must
        // reconstruct within the coarser of the two local step sizes.
        for c in 0..=255u8 {
            let x = ulaw_decode_sample(c) as i32;
            let y = alaw_decode_sample(tables::ULAW_TO_ALAW[c as usize]) as i32;
            let step = (x.abs() / 16).max(16);
            assert!((x - y).abs() <= step, "mu {c:#x}: {x} -> {y}");
            let x = alaw_decode_sample(c) as i32;
            let y = ulaw_decode_sample(tables::ALAW_TO_ULAW[c as usize]) as i32;
            let step = (x.abs() / 16).max(16);
            assert!((x - y).abs() <= step, "A {c:#x}: {x} -> {y}");
        }
    }
}
