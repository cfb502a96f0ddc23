//! Instruction sets for the hand-written kernels, picked at run time. The crate is compiled
//! for baseline x86-64; `multiversion!` compiles a kernel's body three times (baseline,
//! AVX2+FMA, AVX-512F) and runs the copy the CPU can execute. The bodies are plain loops over
//! fixed-size lanes that the compiler vectorises; they do no float reassociation, so every
//! copy gives the same bits, and the tests run each level the CPU has against the baseline.

use std::sync::OnceLock;

/// An instruction-set level this CPU supports. Only `detected` and `available` make one, so a
/// level never names instructions the CPU lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

/// Environment variable capping the level (`baseline`, `avx2`, `avx512`), to time or test the
/// fallbacks.
pub const SIMD_ENV: &str = "GRADBOARD_SIMD";

impl Level {
    /// Baseline x86-64 (SSE2), or whatever the target guarantees elsewhere.
    pub const BASELINE: Level = Level(0);
    const AVX2: Level = Level(1);
    const AVX512: Level = Level(2);

    fn cpu() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                return Level::AVX512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Level::AVX2;
            }
        }
        Level::BASELINE
    }

    /// The cap `GRADBOARD_SIMD` asks for (none when unset), never above this CPU's best, or
    /// an error naming the values it takes.
    pub fn cap_from_env() -> Result<Option<Level>, String> {
        let asked = match std::env::var(SIMD_ENV) {
            Err(_) => return Ok(None),
            Ok(v) => match v.as_str() {
                "baseline" => Level::BASELINE,
                "avx2" => Level::AVX2,
                "avx512" => Level::AVX512,
                _ => {
                    return Err(format!(
                    "{SIMD_ENV}={v}: one of avx512, avx2, baseline (or unset for the CPU's best)"
                ))
                }
            },
        };
        Ok(Some(asked.min(Level::cpu())))
    }

    /// The best level of this CPU, capped by `GRADBOARD_SIMD` when set (a value it does not
    /// take caps nothing; the command line refuses it first with `cap_from_env`).
    pub fn detected() -> Level {
        static LEVEL: OnceLock<Level> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let cap = Level::cap_from_env()
                .ok()
                .flatten()
                .unwrap_or(Level::AVX512);
            Level::cpu().min(cap)
        })
    }

    /// Whether `GRADBOARD_SIMD` caps the level below this CPU's best.
    pub fn capped() -> bool {
        Level::detected() < Level::cpu()
    }

    /// Every level this CPU can run, lowest first.
    pub fn available() -> Vec<Level> {
        let top = Level::cpu();
        [Level::BASELINE, Level::AVX2, Level::AVX512]
            .into_iter()
            .filter(|l| *l <= top)
            .collect()
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "baseline",
            1 => "avx2",
            _ => "avx512",
        }
    }

    /// Whether AVX-512F may run.
    pub fn avx512(self) -> bool {
        self.0 >= 2
    }

    /// Whether AVX2 and FMA may run.
    pub fn avx2(self) -> bool {
        self.0 >= 1
    }
}

/// Defines `fn NAME(level: Level, args...)` (or `fn NAME<T: Bound>(...)`, one type parameter)
/// running `body` compiled for the highest of AVX-512F, AVX2+FMA and the baseline that `level`
/// allows.
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident $(<$g:ident : $bound:path>)? ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name $(<$g: $bound>)? (level: $crate::kernels::simd::Level, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp $(<$g: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 $(<$g: $bound>)? ($($arg: $ty),*) $(-> $ret)? { imp $(::<$g>)? ($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 $(<$g: $bound>)? ($($arg: $ty),*) $(-> $ret)? { imp $(::<$g>)? ($($arg),*) }
                if level.avx512() {
                    // SAFETY: a Level only allows instruction sets the CPU reported.
                    return unsafe { avx512 $(::<$g>)? ($($arg),*) };
                }
                if level.avx2() {
                    // SAFETY: as above.
                    return unsafe { avx2 $(::<$g>)? ($($arg),*) };
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = level;
            imp $(::<$g>)? ($($arg),*)
        }
    };
}

/// Lanes a kernel processes at once: one AVX-512 register of f32.
pub const LANES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_is_never_above_the_cpus_level() {
        // Safe to set here: the cap only ever lowers the level, and AVX-512 is the highest.
        std::env::set_var(SIMD_ENV, "avx512");
        let cap = Level::cap_from_env().unwrap().unwrap();
        assert!(cap <= Level::cpu(), "{cap:?} above {:?}", Level::cpu());
        assert!(Level::detected() <= Level::cpu());
    }
}
