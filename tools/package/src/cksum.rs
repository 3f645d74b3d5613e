//! The POSIX `cksum` CRC, which a Bom records for every file and symlink.
//!
//! It is not the zlib CRC-32: the polynomial is the same (0x04C11DB7) but it runs
//! most significant bit first, from zero, over the data and then the data's length,
//! and is complemented at the end. `lsbom` on a Mac and `cksum` anywhere print it.

/// The CRC polynomial of POSIX `cksum`.
const POLYNOMIAL: u32 = 0x04C1_1DB7;

/// The lookup table for one byte at a time, built at compile time.
const TABLE: [u32; 256] = build_table();

/// The remainder of each byte value shifted through the polynomial.
const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut remainder = (byte as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            remainder = if remainder & 0x8000_0000 != 0 { (remainder << 1) ^ POLYNOMIAL } else { remainder << 1 };
            bit += 1;
        }
        table[byte] = remainder;
        byte += 1;
    }
    table
}

/// Feeds one byte into the running remainder.
fn step(remainder: u32, byte: u8) -> u32 {
    (remainder << 8) ^ TABLE[((remainder >> 24) as u8 ^ byte) as usize]
}

/// What `cksum` prints as its first field for `data`.
pub(crate) fn posix_cksum(data: &[u8]) -> u32 {
    let mut remainder = data.iter().fold(0u32, |remainder, &byte| step(remainder, byte));
    let mut length = data.len() as u64;
    while length != 0 {
        remainder = step(remainder, (length & 0xff) as u8);
        length >>= 8;
    }
    !remainder
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `cksum`'s first field for `data`, from the real tool.
    fn from_the_tool(data: &[u8]) -> u32 {
        let mut child =
            Command::new("cksum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("cksum is installed");
        child.stdin.take().unwrap().write_all(data).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().parse().unwrap()
    }

    #[test]
    fn agrees_with_the_cksum_tool() {
        let long: Vec<u8> = (0..70_000u32).map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let cases: [&[u8]; 5] = [b"", b"a", b"123456789", b"/usr/local/bin/agent", &long];
        for data in cases {
            assert_eq!(posix_cksum(data), from_the_tool(data), "{} bytes", data.len());
        }
    }

    #[test]
    fn is_the_published_check_value() {
        // POSIX cksum of "123456789" (the CRC catalogue's CRC-32/CKSUM check value
        // covers the data alone; cksum also folds in the length).
        assert_eq!(posix_cksum(b"123456789"), 930_766_865);
    }
}
