//! Instruction-set detection: the one dispatch point every kernel family uses.
//!
//! Detection goes through `pulp`'s tokens (cached after the first call), so
//! choosing a path costs a relaxed atomic load per call.

use core::fmt;

/// A kernel implementation. `Scalar` is the reference every other path is
/// tested against, bit for bit.
///
/// ```
/// use teledsp::Isa;
/// let best = Isa::detect();
/// assert!(Isa::available().contains(&best));
/// assert!(Isa::available().contains(&Isa::Scalar));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Plain Rust, one sample at a time: the reference.
    Scalar,
    /// x86-64-v3: AVX2, FMA, BMI2 (`pulp::x86::V3`).
    Avx2,
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL (`pulp::x86::V4`).
    Avx512,
    /// aarch64 Advanced SIMD (`pulp::aarch64::Neon`).
    Neon,
}

impl Isa {
    /// Every path, in the order tests and benchmarks list them.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// The fastest path this CPU supports. Detected once, then a single
    /// atomic load: per-frame callers (the bindings) pay nothing for it.
    #[inline]
    pub fn detect() -> Isa {
        use core::sync::atomic::{AtomicU8, Ordering::Relaxed};
        static CACHE: AtomicU8 = AtomicU8::new(u8::MAX);
        match CACHE.load(Relaxed) {
            i if (i as usize) < Isa::ALL.len() => Isa::ALL[i as usize],
            _ => {
                let isa = Self::detect_uncached();
                let i = Isa::ALL.iter().position(|&x| x == isa).unwrap_or(0);
                CACHE.store(i as u8, Relaxed);
                isa
            }
        }
    }

    fn detect_uncached() -> Isa {
        if Isa::Avx512.is_available() {
            Isa::Avx512
        } else if Isa::Avx2.is_available() {
            Isa::Avx2
        } else if Isa::Neon.is_available() {
            Isa::Neon
        } else {
            Isa::Scalar
        }
    }

    /// Whether this CPU (and this build's target) can run the path.
    #[inline]
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => pulp::x86::V3::is_available(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => pulp::x86::V4::is_available(),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => pulp::aarch64::Neon::is_available(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every path this CPU supports, scalar first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// Short lowercase name, as used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Runs a `pulp` generic kernel on this instruction set.
    ///
    /// Callers hold an `Isa` whose availability was checked (by `detect` or
    /// `require`), which is what makes the unchecked tokens sound.
    #[cfg_attr(
        not(any(feature = "resample", feature = "vad", feature = "audioop", feature = "echo")),
        allow(dead_code)
    )]
    #[inline(always)]
    pub(crate) fn vectorize<Op: pulp::WithSimd>(self, op: Op) -> Op::Output {
        use pulp::Simd;
        debug_assert!(self.is_available());
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability checked when this `Isa` was obtained.
            Isa::Avx512 => Simd::vectorize(unsafe { pulp::x86::V4::new_unchecked() }, op),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => Simd::vectorize(unsafe { pulp::x86::V3::new_unchecked() }, op),
            #[cfg(target_arch = "aarch64")]
            // SAFETY: as above.
            Isa::Neon => Simd::vectorize(unsafe { pulp::aarch64::Neon::new_unchecked() }, op),
            _ => Simd::vectorize(pulp::Scalar::new(), op),
        }
    }

    /// Runs `f` compiled for this instruction set: plain loops written once
    /// (the `audioop` kernels) are vectorised by the compiler for AVX-512,
    /// AVX2 or NEON, and `Isa::Scalar` runs the same code at the baseline,
    /// so the scalar twin is the same source. `f` must be an
    /// `#[inline(always)]` closure, or it is compiled outside the
    /// target-feature context and runs at the baseline.
    #[cfg_attr(not(any(feature = "audioop", feature = "echo")), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn run<R>(self, f: impl FnOnce() -> R) -> R {
        struct Run<F>(F);
        impl<R, F: FnOnce() -> R> pulp::WithSimd for Run<F> {
            type Output = R;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) -> R {
                (self.0)()
            }
        }
        self.vectorize(Run(f))
    }

    /// `Ok(self)` if available, else `Error::IsaUnavailable`.
    pub(crate) fn require(self) -> Result<Isa, crate::Error> {
        if self.is_available() { Ok(self) } else { Err(crate::Error::IsaUnavailable(self)) }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
