//! Intel AMX (Advanced Matrix Extensions) as far as gradboard uses it today: whether this
//! CPU and kernel let a process use its bf16 tiles, and the rate of TDPBF16PS (a 16x16 f32
//! tile plus the products of a 16x32 and a 32x16 bf16 tile: 8,192 multiply-adds an
//! instruction) for `bench`'s roofline. Rust's AMX intrinsics are not stable; the few
//! instructions are written with `asm!`.

/// Whether AMX-BF16 tiles are usable here: the CPU has AMX-TILE and AMX-BF16 (CPUID leaf 7),
/// and Linux grants this process the tile data state (asked once).
pub fn available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        use std::sync::OnceLock;
        static GRANTED: OnceLock<bool> = OnceLock::new();
        *GRANTED.get_or_init(|| {
            // Leaf 7 only where the CPU reports it.
            let leaf = std::arch::x86_64::__cpuid(0);
            if leaf.eax < 7 {
                return false;
            }
            let ext = std::arch::x86_64::__cpuid_count(7, 0);
            let (bf16, tile) = (ext.edx & (1 << 22) != 0, ext.edx & (1 << 24) != 0);
            if !(bf16 && tile && super::simd::Level::detected().avx512()) {
                return false;
            }
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: arch_prctl(2) asking for a feature permission; it touches no memory.
            let asked = unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                )
            };
            asked == 0
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        false
    }
}

/// Multiply-adds of one TDPBF16PS on full tiles.
pub const MACS_PER_TILE_PRODUCT: usize = 16 * 16 * 32;

/// Runs `rounds` times two independent TDPBF16PS (into tiles 0 and 3, from tiles 1 and 2
/// holding bf16 halves) on this thread and returns the first accumulator's first element:
/// `rounds * 32 * 0.25`, exact while below 2^24. Call only when `available()`.
pub fn tile_products(rounds: usize) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        assert!(available(), "AMX is not available here");
        #[repr(C, align(64))]
        struct Config([u8; 64]);
        let mut config = Config([0; 64]);
        config.0[0] = 1; // palette 1
        for tile in 0..4 {
            config.0[16 + 2 * tile] = 64; // 64 bytes a row
            config.0[48 + tile] = 16; // 16 rows
        }
        let halves = vec![0x3f00u16; 16 * 32]; // bf16 0.5
        let mut out = vec![0f32; 16 * 16];
        // SAFETY: the CPU has AMX and the kernel granted it (`available`); the configuration
        // is aligned and describes four 16x64-byte tiles; the loads and the store stay inside
        // `halves` and `out` (16 rows of 64 bytes); the tiles are released before returning.
        unsafe {
            std::arch::asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr());
            std::arch::asm!("tilezero tmm0", "tilezero tmm3");
            std::arch::asm!(
                "tileloadd tmm1, [{0} + {1}]",
                "tileloadd tmm2, [{0} + {1}]",
                in(reg) halves.as_ptr(),
                in(reg) 64usize
            );
            for _ in 0..rounds {
                std::arch::asm!("tdpbf16ps tmm0, tmm1, tmm2", "tdpbf16ps tmm3, tmm1, tmm2");
            }
            std::arch::asm!("tilestored [{0} + {1}], tmm0", in(reg) out.as_mut_ptr(), in(reg) 64usize);
            std::arch::asm!("tilerelease");
        }
        out[0]
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        let _ = rounds;
        unreachable!("AMX is x86-64 Linux only here")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amx_tile_products_compute_what_the_count_assumes_where_amx_is_granted() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        assert_eq!(tile_products(1000), 1000.0 * 32.0 * 0.25);
    }
}
