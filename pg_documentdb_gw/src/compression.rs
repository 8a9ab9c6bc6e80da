//! OP_COMPRESSED compressors (MongoDB compression spec): noop, snappy, zlib, zstd.

use std::fmt;
use std::io::{Read, Write};

/// A payload that could not be compressed or decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionError(pub String);

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompressionError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compressor {
    Noop,
    Snappy,
    Zlib,
    Zstd,
}

impl Compressor {
    /// The compressors we offer in `hello`, by name (noop is never negotiated).
    pub const SUPPORTED: [Compressor; 3] = [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd];

    pub fn id(self) -> u8 {
        match self {
            Compressor::Noop => 0,
            Compressor::Snappy => 1,
            Compressor::Zlib => 2,
            Compressor::Zstd => 3,
        }
    }

    pub fn from_id(id: u8) -> Option<Compressor> {
        match id {
            0 => Some(Compressor::Noop),
            1 => Some(Compressor::Snappy),
            2 => Some(Compressor::Zlib),
            3 => Some(Compressor::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compressor::Noop => "noop",
            Compressor::Snappy => "snappy",
            Compressor::Zlib => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Option<Compressor> {
        Compressor::SUPPORTED.into_iter().find(|c| c.name() == name)
    }
}

/// The compressors both sides support, in the client's order of preference.
pub fn negotiate<'a>(client: impl IntoIterator<Item = &'a str>) -> Vec<Compressor> {
    let mut out = Vec::new();
    for name in client {
        if let Some(c) = Compressor::from_name(name) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

pub fn compress(compressor: Compressor, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let err = |e: std::io::Error| CompressionError(format!("compression failed: {e}"));
    match compressor {
        Compressor::Noop => Ok(data.to_vec()),
        Compressor::Snappy => snap::raw::Encoder::new().compress_vec(data).map_err(|e| CompressionError(e.to_string())),
        Compressor::Zlib => {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
        Compressor::Zstd => zstd::bulk::compress(data, 3).map_err(err),
    }
}

/// Decompresses `data`, which must expand to exactly `expected` bytes (never more: the
/// output buffer is bounded by the declared size, which the caller has checked).
pub fn decompress(compressor: Compressor, data: &[u8], expected: usize) -> Result<Vec<u8>, CompressionError> {
    let out = match compressor {
        Compressor::Noop => data.to_vec(),
        Compressor::Snappy => {
            let len = snap::raw::decompress_len(data).map_err(|e| CompressionError(e.to_string()))?;
            if len != expected {
                return Err(CompressionError(format!("snappy payload expands to {len} bytes, header says {expected}")));
            }
            snap::raw::Decoder::new().decompress_vec(data).map_err(|e| CompressionError(e.to_string()))?
        }
        Compressor::Zlib => {
            let mut out = Vec::with_capacity(expected.min(1 << 20));
            flate2::read::ZlibDecoder::new(data)
                .take(expected as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| CompressionError(e.to_string()))?;
            out
        }
        Compressor::Zstd => zstd::bulk::decompress(data, expected).map_err(|e| CompressionError(e.to_string()))?,
    };
    if out.len() != expected {
        return Err(CompressionError(format!("payload expands to {} bytes, header says {expected}", out.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 97).to_le_bytes()).collect();
        for c in [Compressor::Noop, Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
            let z = compress(c, &data).unwrap();
            assert_eq!(decompress(c, &z, data.len()).unwrap(), data, "{c:?}");
            assert!(decompress(c, &z, data.len() - 1).is_err(), "{c:?} short");
            assert_eq!(Compressor::from_id(c.id()), Some(c));
        }
        assert!(decompress(Compressor::Zlib, b"garbage", 10).is_err());
    }

    #[test]
    fn negotiation_keeps_client_order() {
        assert_eq!(negotiate(["zstd", "foo", "snappy", "zstd"]), vec![Compressor::Zstd, Compressor::Snappy]);
        assert!(negotiate(["noop"]).is_empty());
    }
}
