//! The MongoDB wire protocol: message header, OP_MSG, OP_QUERY (legacy handshake), OP_REPLY and
//! OP_COMPRESSED. Pure functions over byte slices; no I/O. Every length read from the wire is
//! checked before it is used, so arbitrary input yields an error, never a panic.

use std::fmt;

use bson::RawDocument;

use crate::compression::{self, CompressionError, Compressor};

/// Largest message we accept or send (MongoDB's `maxMessageSizeBytes`).
pub const MAX_MESSAGE_SIZE: usize = 48_000_000;
/// Largest BSON document (MongoDB's `maxBsonObjectSize`).
pub const MAX_BSON_OBJECT_SIZE: usize = documentdb_bson::MAX_BSON_SIZE;
/// Size of the standard message header.
pub const HEADER_LEN: usize = 16;

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_COMPRESSED: i32 = 2012;
pub const OP_MSG: i32 = 2013;

/// OP_MSG flag bits.
pub const FLAG_CHECKSUM_PRESENT: u32 = 1;
pub const FLAG_MORE_TO_COME: u32 = 1 << 1;
pub const FLAG_EXHAUST_ALLOWED: u32 = 1 << 16;
/// Bits 0-15 are "required": a receiver must reject unknown ones.
const REQUIRED_FLAGS_MASK: u32 = 0xFFFF;
const KNOWN_REQUIRED_FLAGS: u32 = FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME;

/// OP_REPLY response flag: the query failed (the document is `{$err, code}`).
pub const REPLY_FLAG_QUERY_FAILURE: i32 = 1 << 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The declared length is below the header size or above [`MAX_MESSAGE_SIZE`].
    BadLength(i64),
    /// The frame ends before a field it declares.
    Truncated(&'static str),
    UnsupportedOpcode(i32),
    /// An OP_MSG flag bit in the required range that we don't know.
    IllegalFlags(u32),
    ChecksumMismatch {
        expected: u32,
        actual: u32,
    },
    BadSectionKind(u8),
    /// Zero or several kind-0 sections.
    BodyCount(usize),
    InvalidBson(String),
    BadCString,
    UnknownCompressor(u8),
    Decompression(String),
    /// Trailing bytes where the message should end.
    TrailingBytes(usize),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::BadLength(n) => {
                write!(f, "invalid message length {n} (must be between {HEADER_LEN} and {MAX_MESSAGE_SIZE})")
            }
            ProtocolError::Truncated(what) => write!(f, "message truncated in {what}"),
            ProtocolError::UnsupportedOpcode(op) => write!(f, "unsupported opcode {op}"),
            ProtocolError::IllegalFlags(flags) => {
                write!(f, "unsupported OP_MSG required flag bits 0x{flags:x}")
            }
            ProtocolError::ChecksumMismatch { expected, actual } => {
                write!(f, "OP_MSG checksum mismatch: got 0x{actual:08x}, computed 0x{expected:08x}")
            }
            ProtocolError::BadSectionKind(k) => write!(f, "unknown OP_MSG section kind {k}"),
            ProtocolError::BodyCount(n) => {
                write!(f, "OP_MSG must have exactly one body section, found {n}")
            }
            ProtocolError::InvalidBson(e) => write!(f, "invalid BSON in message: {e}"),
            ProtocolError::BadCString => write!(f, "unterminated or non-UTF-8 C string"),
            ProtocolError::UnknownCompressor(id) => write!(f, "unknown compressor id {id}"),
            ProtocolError::Decompression(e) => write!(f, "decompression failed: {e}"),
            ProtocolError::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<CompressionError> for ProtocolError {
    fn from(e: CompressionError) -> ProtocolError {
        ProtocolError::Decompression(e.0)
    }
}

/// The 16-byte header every message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub length: i32,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

impl Header {
    pub fn parse(bytes: &[u8]) -> Result<Header, ProtocolError> {
        let mut r = Reader::new(bytes);
        Ok(Header {
            length: r.i32("header")?,
            request_id: r.i32("header")?,
            response_to: r.i32("header")?,
            op_code: r.i32("header")?,
        })
    }

    /// The declared total length, validated against the limits.
    pub fn checked_length(&self) -> Result<usize, ProtocolError> {
        let len = self.length as i64;
        if len < HEADER_LEN as i64 || len > MAX_MESSAGE_SIZE as i64 {
            return Err(ProtocolError::BadLength(len));
        }
        Ok(len as usize)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.to_le_bytes());
    }
}

/// An OP_MSG kind-1 section: a named sequence of documents, kept as the raw concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSequence {
    pub identifier: String,
    /// The documents back to back, exactly as received (each already length-checked).
    pub documents: Vec<u8>,
    pub count: usize,
}

impl DocumentSequence {
    /// Iterates over the documents.
    pub fn iter(&self) -> impl Iterator<Item = &RawDocument> {
        let mut rest: &[u8] = &self.documents;
        std::iter::from_fn(move || {
            if rest.len() < 5 {
                return None;
            }
            let len = i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let (doc, tail) = rest.split_at(len.min(rest.len()));
            rest = tail;
            RawDocument::from_bytes(doc).ok()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpMsg {
    pub flags: u32,
    /// The kind-0 body document (raw BSON).
    pub body: Vec<u8>,
    pub sequences: Vec<DocumentSequence>,
}

impl OpMsg {
    pub fn checksum_present(&self) -> bool {
        self.flags & FLAG_CHECKSUM_PRESENT != 0
    }
    pub fn more_to_come(&self) -> bool {
        self.flags & FLAG_MORE_TO_COME != 0
    }
    pub fn exhaust_allowed(&self) -> bool {
        self.flags & FLAG_EXHAUST_ALLOWED != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpQuery {
    pub flags: i32,
    pub full_collection_name: String,
    pub number_to_skip: i32,
    pub number_to_return: i32,
    pub query: Vec<u8>,
    pub return_fields_selector: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Msg(OpMsg),
    Query(OpQuery),
}

/// One decoded client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: Header,
    /// The compressor the message arrived with (replies use the same one).
    pub compressor: Option<Compressor>,
    pub request: Request,
}

/// Parses one complete frame (header included). `bytes` must be exactly the declared length.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, ProtocolError> {
    let header = Header::parse(bytes)?;
    let len = header.checked_length()?;
    if bytes.len() != len {
        return if bytes.len() < len {
            Err(ProtocolError::Truncated("message"))
        } else {
            Err(ProtocolError::TrailingBytes(bytes.len() - len))
        };
    }
    if header.op_code == OP_COMPRESSED {
        let mut r = Reader::new(&bytes[HEADER_LEN..]);
        let original_op = r.i32("OP_COMPRESSED")?;
        let uncompressed_size = r.i32("OP_COMPRESSED")?;
        let compressor_id = r.u8("OP_COMPRESSED")?;
        let payload = r.rest();
        if original_op == OP_COMPRESSED {
            return Err(ProtocolError::UnsupportedOpcode(original_op));
        }
        if uncompressed_size < 0 || uncompressed_size as usize > MAX_MESSAGE_SIZE - HEADER_LEN {
            return Err(ProtocolError::BadLength(uncompressed_size as i64 + HEADER_LEN as i64));
        }
        let compressor = Compressor::from_id(compressor_id).ok_or(ProtocolError::UnknownCompressor(compressor_id))?;
        let body = compression::decompress(compressor, payload, uncompressed_size as usize)?;
        // Rebuild the original message so the checksum (computed over the uncompressed
        // message) can be verified exactly as for an uncompressed one.
        let inner_header = Header {
            length: (HEADER_LEN + body.len()) as i32,
            request_id: header.request_id,
            response_to: header.response_to,
            op_code: original_op,
        };
        let mut full = Vec::with_capacity(HEADER_LEN + body.len());
        inner_header.write(&mut full);
        full.extend_from_slice(&body);
        let request = parse_body(&inner_header, &full)?;
        return Ok(Frame { header: inner_header, compressor: Some(compressor), request });
    }
    let request = parse_body(&header, bytes)?;
    Ok(Frame { header, compressor: None, request })
}

fn parse_body(header: &Header, full: &[u8]) -> Result<Request, ProtocolError> {
    match header.op_code {
        OP_MSG => parse_op_msg(full).map(Request::Msg),
        OP_QUERY => parse_op_query(&full[HEADER_LEN..]).map(Request::Query),
        op => Err(ProtocolError::UnsupportedOpcode(op)),
    }
}

/// Parses an OP_MSG; `full` is the whole message including the header.
fn parse_op_msg(full: &[u8]) -> Result<OpMsg, ProtocolError> {
    let mut r = Reader::new(&full[HEADER_LEN..]);
    let flags = r.u32("OP_MSG flags")?;
    let unknown_required = flags & REQUIRED_FLAGS_MASK & !KNOWN_REQUIRED_FLAGS;
    if unknown_required != 0 {
        return Err(ProtocolError::IllegalFlags(unknown_required));
    }
    let mut sections = r.rest();
    if flags & FLAG_CHECKSUM_PRESENT != 0 {
        if sections.len() < 4 {
            return Err(ProtocolError::Truncated("OP_MSG checksum"));
        }
        let split = full.len() - 4;
        let tail = &full[split..];
        let actual = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let expected = crc32c::crc32c(&full[..split]);
        if actual != expected {
            return Err(ProtocolError::ChecksumMismatch { expected, actual });
        }
        sections = &sections[..sections.len() - 4];
    }
    let mut body = None;
    let mut bodies = 0usize;
    let mut sequences = Vec::new();
    let mut r = Reader::new(sections);
    while !r.is_empty() {
        match r.u8("OP_MSG section kind")? {
            0 => {
                let doc = r.document("OP_MSG body")?;
                bodies += 1;
                body = Some(doc.as_bytes().to_vec());
            }
            1 => {
                let size = r.i32("document sequence size")?;
                // The size counts itself.
                if size < 4 || (size as usize - 4) > r.remaining() {
                    return Err(ProtocolError::Truncated("document sequence"));
                }
                let mut seq = Reader::new(r.take(size as usize - 4, "document sequence")?);
                let identifier = seq.cstring()?.to_owned();
                let start = seq.pos;
                let mut count = 0;
                while !seq.is_empty() {
                    seq.document("document sequence")?;
                    count += 1;
                }
                let documents = seq.buf[start..].to_vec();
                sequences.push(DocumentSequence { identifier, documents, count });
            }
            kind => return Err(ProtocolError::BadSectionKind(kind)),
        }
    }
    match body {
        Some(body) if bodies == 1 => Ok(OpMsg { flags, body, sequences }),
        _ => Err(ProtocolError::BodyCount(bodies)),
    }
}

/// Parses an OP_QUERY body (after the header).
fn parse_op_query(bytes: &[u8]) -> Result<OpQuery, ProtocolError> {
    let mut r = Reader::new(bytes);
    let flags = r.i32("OP_QUERY flags")?;
    let full_collection_name = r.cstring()?.to_owned();
    let number_to_skip = r.i32("OP_QUERY numberToSkip")?;
    let number_to_return = r.i32("OP_QUERY numberToReturn")?;
    let query = r.document("OP_QUERY query")?.as_bytes().to_vec();
    let return_fields_selector =
        if r.is_empty() { None } else { Some(r.document("OP_QUERY returnFieldsSelector")?.as_bytes().to_vec()) };
    if !r.is_empty() {
        return Err(ProtocolError::TrailingBytes(r.remaining()));
    }
    Ok(OpQuery { flags, full_collection_name, number_to_skip, number_to_return, query, return_fields_selector })
}

/// Whether the first bytes of a connection are a TLS ClientHello rather than a MongoDB frame.
/// A TLS record starts `0x16` (handshake), `0x03 0x0N` (version), two length bytes, then
/// `0x01` (ClientHello). A MongoDB frame starts with its little-endian length, so `0x16`
/// alone is ambiguous (a 278-byte hello starts with it); the version and handshake-type
/// bytes settle it.
pub fn looks_like_tls(first: &[u8]) -> bool {
    match first {
        [0x16, 0x03, v, _, _, 0x01, ..] => *v <= 0x04,
        [0x16, 0x03, v, ..] if first.len() < 6 => *v <= 0x04,
        [0x16, 0x03] | [0x16] => true,
        _ => false,
    }
}

/// Encodes an OP_MSG reply with one body section, adding a CRC-32C checksum when asked.
pub fn encode_op_msg(request_id: i32, response_to: i32, flags: u32, body: &[u8], checksum: bool) -> Vec<u8> {
    let flags = if checksum { flags | FLAG_CHECKSUM_PRESENT } else { flags & !FLAG_CHECKSUM_PRESENT };
    let len = HEADER_LEN + 4 + 1 + body.len() + if checksum { 4 } else { 0 };
    let mut out = Vec::with_capacity(len);
    Header { length: len as i32, request_id, response_to, op_code: OP_MSG }.write(&mut out);
    out.extend_from_slice(&flags.to_le_bytes());
    out.push(0);
    out.extend_from_slice(body);
    if checksum {
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// Encodes a request-style OP_MSG with document sequences (used by tests and the fuzzer's
/// round trip; the server never sends sequences).
pub fn encode_op_msg_with_sequences(
    request_id: i32,
    flags: u32,
    body: &[u8],
    sequences: &[DocumentSequence],
) -> Vec<u8> {
    let checksum = flags & FLAG_CHECKSUM_PRESENT != 0;
    let mut out = Vec::new();
    Header { length: 0, request_id, response_to: 0, op_code: OP_MSG }.write(&mut out);
    out.extend_from_slice(&flags.to_le_bytes());
    out.push(0);
    out.extend_from_slice(body);
    for seq in sequences {
        out.push(1);
        let size = 4 + seq.identifier.len() + 1 + seq.documents.len();
        out.extend_from_slice(&(size as i32).to_le_bytes());
        out.extend_from_slice(seq.identifier.as_bytes());
        out.push(0);
        out.extend_from_slice(&seq.documents);
    }
    let len = out.len() + if checksum { 4 } else { 0 };
    out[..4].copy_from_slice(&(len as i32).to_le_bytes());
    if checksum {
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// Encodes an OP_QUERY (tests and tools).
pub fn encode_op_query(request_id: i32, full_collection_name: &str, query: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header { length: 0, request_id, response_to: 0, op_code: OP_QUERY }.write(&mut out);
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(full_collection_name.as_bytes());
    out.push(0);
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&(-1i32).to_le_bytes());
    out.extend_from_slice(query);
    let len = out.len() as i32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// Encodes an OP_REPLY carrying `documents`.
pub fn encode_op_reply(request_id: i32, response_to: i32, response_flags: i32, documents: &[&[u8]]) -> Vec<u8> {
    let len = HEADER_LEN + 20 + documents.iter().map(|d| d.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    Header { length: len as i32, request_id, response_to, op_code: OP_REPLY }.write(&mut out);
    out.extend_from_slice(&response_flags.to_le_bytes());
    out.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    out.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    out.extend_from_slice(&(documents.len() as i32).to_le_bytes());
    for doc in documents {
        out.extend_from_slice(doc);
    }
    out
}

/// Wraps a complete message (header included) into an OP_COMPRESSED with the same ids.
pub fn compress_message(message: &[u8], compressor: Compressor) -> Result<Vec<u8>, ProtocolError> {
    let header = Header::parse(message)?;
    let body = &message[HEADER_LEN..];
    let compressed = compression::compress(compressor, body)?;
    let len = HEADER_LEN + 9 + compressed.len();
    let mut out = Vec::with_capacity(len);
    Header {
        length: len as i32,
        request_id: header.request_id,
        response_to: header.response_to,
        op_code: OP_COMPRESSED,
    }
    .write(&mut out);
    out.extend_from_slice(&header.op_code.to_le_bytes());
    out.extend_from_slice(&(body.len() as i32).to_le_bytes());
    out.push(compressor.id());
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        if n > self.remaining() {
            return Err(ProtocolError::Truncated(what));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn cstring(&mut self) -> Result<&'a str, ProtocolError> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|b| *b == 0).ok_or(ProtocolError::BadCString)?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| ProtocolError::BadCString)?;
        self.pos += nul + 1;
        Ok(s)
    }
    /// One BSON document: length-checked, size-limited, and its top level validated.
    fn document(&mut self, what: &'static str) -> Result<&'a RawDocument, ProtocolError> {
        if self.remaining() < 5 {
            return Err(ProtocolError::Truncated(what));
        }
        let b = &self.buf[self.pos..];
        let len = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if len < 5 || len as usize > self.remaining() {
            return Err(ProtocolError::Truncated(what));
        }
        if len as usize > MAX_BSON_OBJECT_SIZE + 16 * 1024 {
            return Err(ProtocolError::InvalidBson(format!("document of {len} bytes is too large")));
        }
        let bytes = self.take(len as usize, what)?;
        let doc = RawDocument::from_bytes(bytes).map_err(|e| ProtocolError::InvalidBson(e.to_string()))?;
        for element in doc.iter() {
            element.map_err(|e| ProtocolError::InvalidBson(e.to_string()))?;
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn body() -> Vec<u8> {
        rawdoc! { "insert": "c", "$db": "test" }.into_bytes()
    }

    fn docs(n: usize) -> DocumentSequence {
        let mut documents = Vec::new();
        for i in 0..n {
            documents.extend_from_slice(rawdoc! { "_id": i as i32, "x": "y" }.as_bytes());
        }
        DocumentSequence { identifier: "documents".into(), documents, count: n }
    }

    #[test]
    fn op_msg_round_trip_with_sequence() {
        let msg = encode_op_msg_with_sequences(7, 0, &body(), &[docs(3)]);
        let frame = parse_frame(&msg).unwrap();
        assert_eq!(frame.header.request_id, 7);
        assert_eq!(frame.header.op_code, OP_MSG);
        assert_eq!(frame.compressor, None);
        let Request::Msg(m) = frame.request else { panic!("not a msg") };
        assert_eq!(m.body, body());
        assert_eq!(m.sequences.len(), 1);
        assert_eq!(m.sequences[0].identifier, "documents");
        assert_eq!(m.sequences[0].count, 3);
        assert_eq!(m.sequences[0].iter().count(), 3);
        assert!(!m.checksum_present() && !m.more_to_come());
    }

    #[test]
    fn checksum_verified_and_added() {
        let msg = encode_op_msg_with_sequences(1, FLAG_CHECKSUM_PRESENT, &body(), &[docs(2)]);
        let frame = parse_frame(&msg).unwrap();
        let Request::Msg(m) = frame.request else { panic!() };
        assert!(m.checksum_present());
        // Corrupt one byte of the payload: the checksum no longer matches.
        let mut bad = msg.clone();
        bad[HEADER_LEN + 8] ^= 0x01;
        assert!(matches!(parse_frame(&bad), Err(ProtocolError::ChecksumMismatch { .. }) | Err(_)));
        let mut bad_crc = msg;
        let n = bad_crc.len();
        bad_crc[n - 1] ^= 0xff;
        assert!(matches!(parse_frame(&bad_crc), Err(ProtocolError::ChecksumMismatch { .. })));
        // Replies carry a valid checksum when asked.
        let reply = encode_op_msg(2, 1, 0, &body(), true);
        let parsed = parse_frame(&reply).unwrap();
        let Request::Msg(m) = parsed.request else { panic!() };
        assert!(m.checksum_present());
        assert_eq!(parsed.header.response_to, 1);
    }

    #[test]
    fn known_crc32c_vector() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn flags() {
        let msg = encode_op_msg_with_sequences(1, FLAG_MORE_TO_COME | FLAG_EXHAUST_ALLOWED, &body(), &[]);
        let Request::Msg(m) = parse_frame(&msg).unwrap().request else { panic!() };
        assert!(m.more_to_come() && m.exhaust_allowed());
        let msg = encode_op_msg_with_sequences(1, 1 << 5, &body(), &[]);
        assert_eq!(parse_frame(&msg), Err(ProtocolError::IllegalFlags(1 << 5)));
        // Unknown optional bits (16..31) are ignored.
        let msg = encode_op_msg_with_sequences(1, 1 << 20, &body(), &[]);
        assert!(parse_frame(&msg).is_ok());
    }

    #[test]
    fn body_count_and_section_kinds() {
        let mut msg = encode_op_msg_with_sequences(1, 0, &body(), &[]);
        // A second body.
        msg.push(0);
        msg.extend_from_slice(&body());
        let len = msg.len() as i32;
        msg[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(parse_frame(&msg), Err(ProtocolError::BodyCount(2)));
        // Only a sequence, no body.
        let mut only_seq = encode_op_msg_with_sequences(1, 0, &body(), &[docs(1)]);
        only_seq.drain(HEADER_LEN + 4..HEADER_LEN + 5 + body().len());
        let len = only_seq.len() as i32;
        only_seq[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(parse_frame(&only_seq), Err(ProtocolError::BodyCount(0)));
        // Unknown section kind.
        let mut kind = encode_op_msg_with_sequences(1, 0, &body(), &[]);
        kind[HEADER_LEN + 4] = 2;
        assert_eq!(parse_frame(&kind), Err(ProtocolError::BadSectionKind(2)));
    }

    #[test]
    fn lengths_are_checked() {
        let msg = encode_op_msg_with_sequences(1, 0, &body(), &[docs(2)]);
        assert!(matches!(parse_frame(&msg[..msg.len() - 1]), Err(ProtocolError::Truncated(_))));
        let mut big = msg.clone();
        big[..4].copy_from_slice(&((MAX_MESSAGE_SIZE + 1) as i32).to_le_bytes());
        assert!(matches!(parse_frame(&big), Err(ProtocolError::BadLength(_))));
        let mut neg = msg.clone();
        neg[..4].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(matches!(parse_frame(&neg), Err(ProtocolError::BadLength(-5))));
        // A document length pointing past the end of its section.
        let mut inner = msg;
        inner[HEADER_LEN + 5] = 0xff;
        assert!(parse_frame(&inner).is_err());
        assert!(parse_frame(&[]).is_err());
    }

    #[test]
    fn tls_detection() {
        // A real ClientHello record header.
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x03, 0x00, 0xf4, 0x01, 0x00]));
        // A 278-byte MongoDB frame starts with 0x16 too.
        let mut frame = encode_op_msg_with_sequences(5, 0, &body(), &[]);
        frame[..4].copy_from_slice(&278i32.to_le_bytes());
        assert!(!looks_like_tls(&frame[..6]));
        assert!(!looks_like_tls(&encode_op_msg(1, 0, 0, &body(), false)[..6]));
        assert!(!looks_like_tls(&[]));
    }

    #[test]
    fn op_query_round_trip() {
        let q = rawdoc! { "isMaster": 1, "client": { "driver": { "name": "x" } } };
        let msg = encode_op_query(3, "admin.$cmd", q.as_bytes());
        let frame = parse_frame(&msg).unwrap();
        let Request::Query(query) = frame.request else { panic!() };
        assert_eq!(query.full_collection_name, "admin.$cmd");
        assert_eq!(query.number_to_return, -1);
        assert_eq!(query.query, q.as_bytes());
        assert!(query.return_fields_selector.is_none());
    }

    #[test]
    fn op_reply_layout() {
        let d = doc! { "ok": 1.0 }.to_vec().unwrap();
        let reply = encode_op_reply(10, 3, 0, &[&d]);
        let h = Header::parse(&reply).unwrap();
        assert_eq!((h.length as usize, h.request_id, h.response_to, h.op_code), (reply.len(), 10, 3, OP_REPLY));
        assert_eq!(&reply[HEADER_LEN + 16..HEADER_LEN + 20], &1i32.to_le_bytes());
        assert_eq!(&reply[HEADER_LEN + 20..], &d[..]);
    }

    #[test]
    fn compressed_round_trips() {
        for c in [Compressor::Noop, Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
            for checksum in [0, FLAG_CHECKSUM_PRESENT] {
                let msg = encode_op_msg_with_sequences(9, checksum, &body(), &[docs(50)]);
                let compressed = compress_message(&msg, c).unwrap();
                let h = Header::parse(&compressed).unwrap();
                assert_eq!(h.op_code, OP_COMPRESSED);
                assert_eq!(h.length as usize, compressed.len());
                let frame = parse_frame(&compressed).unwrap();
                assert_eq!(frame.compressor, Some(c));
                assert_eq!(frame.header.op_code, OP_MSG);
                assert_eq!(frame.header.request_id, 9);
                let plain = parse_frame(&msg).unwrap();
                assert_eq!(frame.request, plain.request);
            }
        }
    }

    #[test]
    fn compressed_size_lies_are_rejected() {
        let msg = encode_op_msg_with_sequences(9, 0, &body(), &[docs(5)]);
        for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
            let mut compressed = compress_message(&msg, c).unwrap();
            // Declare one byte more than the real size.
            let declared = i32::from_le_bytes(compressed[20..24].try_into().unwrap()) + 1;
            compressed[20..24].copy_from_slice(&declared.to_le_bytes());
            assert!(parse_frame(&compressed).is_err(), "{c:?}");
        }
        let mut unknown = compress_message(&msg, Compressor::Zlib).unwrap();
        unknown[24] = 9;
        assert_eq!(parse_frame(&unknown), Err(ProtocolError::UnknownCompressor(9)));
    }
}
