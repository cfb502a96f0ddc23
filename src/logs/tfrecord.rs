//! TFRecord framing, as TensorBoard's event files use it: each record is its length (u64
//! little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of
//! the data. A record cut short at the end of the bytes (a file still being written) is left
//! for the next read; a record whose CRC does not match is skipped and counted.

/// TensorFlow's mask of a CRC-32C (rotate right by 15, add a constant).
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// What reading some bytes found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Records {
    /// The whole records' data, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes read: where the next read starts (a cut record is read again once whole).
    pub consumed: usize,
    /// Records skipped: a data CRC that did not match.
    pub corrupt: usize,
    /// A length whose CRC did not match: the rest of the bytes cannot be framed.
    pub broken: bool,
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The records of `bytes`.
pub fn read(bytes: &[u8]) -> Records {
    let mut out = Records::default();
    let mut at = 0usize;
    loop {
        let rest = &bytes[at..];
        if rest.len() < 12 {
            break;
        }
        let (len_bytes, len_crc) = (&rest[..8], u32_le(&rest[8..12]));
        if masked_crc(len_bytes) != len_crc {
            out.broken = true;
            break;
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(16)) else {
            out.broken = true;
            break;
        };
        if rest.len() < end {
            break;
        }
        let data = &rest[12..end - 4];
        if masked_crc(data) == u32_le(&rest[end - 4..end]) {
            out.records.push(data.to_vec());
        } else {
            out.corrupt += 1;
        }
        at += end;
    }
    out.consumed = at;
    out
}

/// `data` framed as one record (tests and tools write event files with it).
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_tensorflows_and_cut_or_corrupt_records_are_handled() {
        // CRC-32C of "123456789" is 0xe3069283 (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let mut bytes = frame(b"one");
        bytes.extend(frame(b"two"));
        let whole = bytes.len();
        bytes.extend(&frame(b"three")[..7]);
        let r = read(&bytes);
        assert_eq!(r.records, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(r.consumed, whole, "the cut record waits");
        let mut bad = frame(b"one");
        let n = bad.len();
        bad[n - 5] ^= 1;
        bad.extend(frame(b"two"));
        let r = read(&bad);
        assert_eq!((r.records.len(), r.corrupt), (1, 1));
    }
}
