//! Run ids: UTC time to the second, the preset, and a random suffix; sortable by start.

use crate::data::derive_seed;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A new run id, e.g. `20261127-183015-mlp-best-3f9a`. Within a process the suffix counts up
/// from a random start, so ids do not repeat; across processes it is random, and the run
/// folder is created exclusively (`RunWriter::create` draws again on a clash).
pub fn new_run_id(preset: &str) -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let base =
        *BASE.get_or_init(|| derive_seed(now.as_nanos() as u64, u64::from(std::process::id())));
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let noise = base.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
    let clean: String = preset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{clean}-{:04x}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        noise & 0xffff
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_603), (2026, 5, 30));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn ids_made_in_the_same_second_differ() {
        let ids: std::collections::HashSet<String> =
            (0..200).map(|_| new_run_id("mlp-best")).collect();
        assert_eq!(ids.len(), 200);
    }
}
