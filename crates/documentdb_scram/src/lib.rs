//! SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) as MongoDB speaks them, in the forms
//! our two sides need: key derivation for createUser (the extension) and the server side of
//! the conversation for the gateway.
//!
//! The server never sees a password: it holds the credential's keys (salt, iterations,
//! StoredKey, ServerKey). SCRAM-SHA-256 keys live in PostgreSQL's `pg_authid.rolpassword`
//! (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`); SCRAM-SHA-1 keys in
//! `documentdb_api_catalog.scram_sha1_credentials`, computed over MongoDB's SHA-1 password
//! digest `hex(md5(user + ":mongo:" + password))`.

// A pure crate: no PostgreSQL, no unsafe.
#![forbid(unsafe_code)]

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// PostgreSQL's (and MongoDB's default) SCRAM iteration counts.
pub const SHA256_ITERATIONS: u32 = 4096;
pub const SHA1_ITERATIONS: u32 = 10000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Sha1,
    Sha256,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha1 => "SCRAM-SHA-1",
            Mechanism::Sha256 => "SCRAM-SHA-256",
        }
    }

    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "SCRAM-SHA-1" => Some(Mechanism::Sha1),
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            _ => None,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha1 => Sha1::digest(data).to_vec(),
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here; an empty
        // output would simply never verify.
        match self {
            Mechanism::Sha1 => match <Hmac<Sha1> as KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            Mechanism::Sha256 => match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// SaltedPassword = Hi(password, salt, i) of a password already prepared with
    /// [`Mechanism::prepare_password`].
    pub fn salted_password(self, prepared_password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(prepared_password.as_bytes(), salt, iterations, &mut out);
                out.to_vec()
            }
            Mechanism::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(prepared_password.as_bytes(), salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }

    /// The keys derived from a salted password.
    pub fn keys(self, salted_password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
        let client_key = self.hmac(salted_password, b"Client Key");
        ScramKeys {
            salt: salt.to_vec(),
            iterations,
            stored_key: self.hash(&client_key),
            server_key: self.hmac(salted_password, b"Server Key"),
        }
    }

    /// The string the client's password is turned into before PBKDF2: SASLprep for
    /// SHA-256 ([`saslprep`]), MongoDB's `hex(md5(user:mongo:password))` digest for SHA-1
    /// (which the caller supplies already digested, see [`mongo_sha1_digest`]).
    pub fn prepare_password(self, password: &str) -> String {
        match self {
            Mechanism::Sha256 => saslprep(password),
            Mechanism::Sha1 => password.to_owned(),
        }
    }
}

/// Stored and server keys of a SCRAM credential: what the server keeps for one user and
/// mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl ScramKeys {
    /// The keys of a password (already prepared with [`Mechanism::prepare_password`]).
    pub fn from_password(mechanism: Mechanism, prepared_password: &str, salt: &[u8], iterations: u32) -> ScramKeys {
        mechanism.keys(&mechanism.salted_password(prepared_password, salt, iterations), salt, iterations)
    }

    /// From the base64 columns of `scram_sha1_credentials`.
    pub fn from_base64(salt: &str, iterations: i32, stored_key: &str, server_key: &str) -> Option<ScramKeys> {
        Some(ScramKeys {
            salt: B64.decode(salt).ok()?,
            iterations: u32::try_from(iterations).ok().filter(|i| *i > 0)?,
            stored_key: B64.decode(stored_key).ok()?,
            server_key: B64.decode(server_key).ok()?,
        })
    }
}

/// SASLprep as PostgreSQL applies it: the prepared string, or the raw password when it
/// isn't valid for SASLprep.
pub fn saslprep(password: &str) -> String {
    stringprep::saslprep(password).map(|p| p.into_owned()).unwrap_or_else(|_| password.to_owned())
}

/// SaltedPassword = Hi(password, salt, i) for SHA-256.
pub fn salted_password_sha256(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    Mechanism::Sha256.salted_password(&saslprep(password), salt, iterations)
}

/// SaltedPassword for MongoDB's SCRAM-SHA-1 (no SASLprep; the digest is the password).
pub fn salted_password_sha1(user: &str, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    Mechanism::Sha1.salted_password(&mongo_sha1_digest(user, password), salt, iterations)
}

/// MongoDB's SCRAM-SHA-1 password: `hex(md5(user + ":mongo:" + password))`.
pub fn mongo_sha1_digest(user: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(format!("{user}:mongo:{password}").as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys from a SHA-256 salted password.
pub fn keys_sha256(salted: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    Mechanism::Sha256.keys(salted, salt, iterations)
}

/// Keys from a SHA-1 salted password.
pub fn keys_sha1(salted: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    Mechanism::Sha1.keys(salted, salt, iterations)
}

/// PostgreSQL's `rolpassword` form of a SCRAM-SHA-256 credential.
pub fn postgres_verifier(keys: &ScramKeys) -> String {
    format!(
        "SCRAM-SHA-256${}:{}${}:{}",
        keys.iterations,
        B64.encode(&keys.salt),
        B64.encode(&keys.stored_key),
        B64.encode(&keys.server_key)
    )
}

/// Parses PostgreSQL's `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`; `None` for
/// other password forms, a zero iteration count or keys that are not 32 bytes.
pub fn parse_postgres_verifier(verifier: &str) -> Option<ScramKeys> {
    let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
    let (iter_salt, keys) = rest.split_once('$')?;
    let (iterations, salt) = iter_salt.split_once(':')?;
    let (stored_key, server_key) = keys.split_once(':')?;
    Some(ScramKeys {
        salt: B64.decode(salt).ok()?,
        iterations: iterations.parse().ok().filter(|i| *i > 0)?,
        stored_key: B64.decode(stored_key).ok().filter(|k| k.len() == 32)?,
        server_key: B64.decode(server_key).ok().filter(|k| k.len() == 32)?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// The client message is malformed.
    Malformed(&'static str),
    /// Channel binding requested (we don't offer SCRAM-*-PLUS).
    ChannelBindingUnsupported,
    /// The nonce or channel binding doesn't match, or the proof is wrong.
    AuthenticationFailed,
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScramError::Malformed(what) => write!(f, "malformed SCRAM message: {what}"),
            ScramError::ChannelBindingUnsupported => f.write_str("SCRAM channel binding is not supported"),
            ScramError::AuthenticationFailed => f.write_str("Authentication failed."),
        }
    }
}

impl std::error::Error for ScramError {}

/// The parsed client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    pub gs2_header: String,
    pub username: String,
    pub client_nonce: String,
    /// `client-first-message-bare`, part of the AuthMessage.
    pub bare: String,
}

/// Parses `gs2-header client-first-message-bare`, e.g. `n,,n=user,r=nonce`.
pub fn parse_client_first(payload: &[u8]) -> Result<ClientFirst, ScramError> {
    let msg = std::str::from_utf8(payload).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    let (cbind, rest) = msg.split_once(',').ok_or(ScramError::Malformed("no gs2 header"))?;
    match cbind {
        "n" | "y" => {}
        c if c.starts_with("p=") => return Err(ScramError::ChannelBindingUnsupported),
        _ => return Err(ScramError::Malformed("bad channel binding flag")),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed("no gs2 header"))?;
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("bad authzid"));
    }
    let mut parts = bare.split(',');
    let user = parts.next().and_then(|p| p.strip_prefix("n=")).ok_or(ScramError::Malformed("missing username"))?;
    let nonce = parts
        .next()
        .and_then(|p| p.strip_prefix("r="))
        .filter(|n| !n.is_empty())
        .ok_or(ScramError::Malformed("missing nonce"))?;
    if bare.starts_with("m=") {
        return Err(ScramError::Malformed("mandatory extensions are not supported"));
    }
    Ok(ClientFirst {
        gs2_header: format!("{cbind},{authzid},"),
        username: unescape_username(user)?,
        client_nonce: nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

/// SCRAM's `saslname` escaping: `=2C` is `,` and `=3D` is `=`.
fn unescape_username(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad username escape")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::Malformed("empty username"));
    }
    // No role has one, and PostgreSQL text (the verifier lookup) cannot hold it.
    if out.contains('\0') {
        return Err(ScramError::Malformed("NUL in username"));
    }
    Ok(out)
}

/// The server's side of one exchange: what it keeps between the server-first and the
/// client-final message.
#[derive(Clone)]
pub struct Conversation {
    pub mechanism: Mechanism,
    pub username: String,
    gs2_header: String,
    nonce: String,
    client_first_bare: String,
    server_first: String,
    keys: ScramKeys,
}

impl fmt::Debug for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Builds the server-first message `r=<nonce>,s=<salt>,i=<iterations>`.
pub fn server_first(
    mechanism: Mechanism,
    client_first: &ClientFirst,
    keys: ScramKeys,
    server_nonce: &str,
) -> (String, Conversation) {
    let nonce = format!("{}{}", client_first.client_nonce, server_nonce);
    let msg = format!("r={},s={},i={}", nonce, B64.encode(&keys.salt), keys.iterations);
    let conversation = Conversation {
        mechanism,
        username: client_first.username.clone(),
        gs2_header: client_first.gs2_header.clone(),
        nonce,
        client_first_bare: client_first.bare.clone(),
        server_first: msg.clone(),
        keys,
    };
    (msg, conversation)
}

/// A fresh random server nonce (printable, no commas).
pub fn new_server_nonce() -> String {
    let mut bytes = [0u8; 24];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to a time-derived value rather than failing auth.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..16].copy_from_slice(&t.to_le_bytes());
    }
    B64.encode(bytes)
}

impl Conversation {
    /// Checks the client-final message `c=<cb>,r=<nonce>[,...],p=<proof>` and returns the
    /// server-final message `v=<signature>`.
    pub fn client_final(&self, payload: &[u8]) -> Result<String, ScramError> {
        let msg = std::str::from_utf8(payload).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(ScramError::Malformed("missing proof"))?;
        let mut parts = without_proof.split(',');
        let cb =
            parts.next().and_then(|p| p.strip_prefix("c=")).ok_or(ScramError::Malformed("missing channel binding"))?;
        let nonce = parts.next().and_then(|p| p.strip_prefix("r=")).ok_or(ScramError::Malformed("missing nonce"))?;
        let cb = B64.decode(cb).map_err(|_| ScramError::Malformed("bad channel binding"))?;
        if cb != self.gs2_header.as_bytes() || nonce != self.nonce {
            return Err(ScramError::AuthenticationFailed);
        }
        let proof = B64.decode(proof).map_err(|_| ScramError::Malformed("bad proof"))?;
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let m = self.mechanism;
        let client_signature = m.hmac(&self.keys.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::AuthenticationFailed);
        }
        let client_key: Vec<u8> = proof.iter().zip(&client_signature).map(|(a, b)| a ^ b).collect();
        if !constant_time_eq(&m.hash(&client_key), &self.keys.stored_key) {
            return Err(ScramError::AuthenticationFailed);
        }
        let server_signature = m.hmac(&self.keys.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096.
    #[test]
    fn rfc7677_sha256_keys() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = keys_sha256(&salted_password_sha256("pencil", &salt, 4096), &salt, 4096);
        // ServerSignature in the RFC is HMAC(ServerKey, AuthMessage); check ServerKey through it.
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        assert_eq!(
            B64.encode(Mechanism::Sha256.hmac(&keys.server_key, auth.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    // RFC 5802 section 5 (SHA-1) with MongoDB's digest: MongoDB's published example uses
    // user "user", password "pencil" -> digest 1c33006ec1ffd90f9cadcbcc0e118200.
    #[test]
    fn mongo_sha1_digest_matches_known_value() {
        assert_eq!(mongo_sha1_digest("user", "pencil"), "1c33006ec1ffd90f9cadcbcc0e118200");
    }

    #[test]
    fn postgres_verifier_round_trips() {
        let keys = keys_sha256(&salted_password_sha256("secret", b"0123456789abcdef", 4096), b"0123456789abcdef", 4096);
        assert_eq!(parse_postgres_verifier(&postgres_verifier(&keys)), Some(keys));
    }

    /// Runs a full exchange with a fixed server nonce and checks both messages.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        m: Mechanism,
        password: &str,
        client_first: &str,
        salt_b64: &str,
        iterations: u32,
        server_nonce: &str,
        expected_server_first: &str,
        client_final: &str,
        expected_server_final: &str,
    ) {
        let salt = B64.decode(salt_b64).unwrap();
        let keys = ScramKeys::from_password(m, &m.prepare_password(password), &salt, iterations);
        let cf = parse_client_first(client_first.as_bytes()).unwrap();
        assert_eq!(cf.username, "user");
        let (sf, conv) = server_first(m, &cf, keys, server_nonce);
        assert_eq!(sf, expected_server_first);
        assert_eq!(conv.client_final(client_final.as_bytes()).unwrap(), expected_server_final);
        // A wrong proof fails.
        let (head, proof) = client_final.rsplit_once(",p=").unwrap();
        let mut proof = B64.decode(proof).unwrap();
        proof[0] ^= 1;
        let bad = format!("{head},p={}", B64.encode(proof));
        assert_eq!(conv.client_final(bad.as_bytes()), Err(ScramError::AuthenticationFailed));
        // A wrong nonce fails.
        let wrong_nonce = client_final.replacen("r=", "r=x", 1);
        assert_eq!(conv.client_final(wrong_nonce.as_bytes()), Err(ScramError::AuthenticationFailed));
    }

    #[test]
    fn rfc7677_sha256_vector() {
        exchange(
            Mechanism::Sha256,
            "pencil",
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            4096,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
    }

    #[test]
    fn rfc5802_sha1_vector() {
        exchange(
            Mechanism::Sha1,
            "pencil",
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "QSXCR+Q6sek8bf92",
            4096,
            "3rfcNHYJY1ZVvWVs7j",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
    }

    /// MongoDB's auth spec vector: SCRAM-SHA-1 over `hex(md5("user:mongo:pencil"))`.
    #[test]
    fn mongodb_sha1_vector() {
        exchange(
            Mechanism::Sha1,
            "1c33006ec1ffd90f9cadcbcc0e118200",
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "rQ9ZY3MntBeuP3E1TDVC4w==",
            10000,
            "Ho+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE",
            "r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,p=MC2T8BvbmWRckDw8oWl5IVghwCY=",
            "v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0=",
        );
        // The same credential as createUser derives it from the clear-text password.
        let salt = B64.decode("rQ9ZY3MntBeuP3E1TDVC4w==").unwrap();
        assert_eq!(
            keys_sha1(&salted_password_sha1("user", "pencil", &salt, 10000), &salt, 10000),
            ScramKeys::from_password(Mechanism::Sha1, "1c33006ec1ffd90f9cadcbcc0e118200", &salt, 10000)
        );
    }

    /// SASLprep (RFC 4013) is applied to SCRAM-SHA-256 passwords only.
    #[test]
    fn saslprep_applies_to_sha256() {
        assert_eq!(Mechanism::Sha256.prepare_password("IX"), "IX");
        assert_eq!(Mechanism::Sha256.prepare_password("I\u{00AD}X"), "IX");
        assert_eq!(Mechanism::Sha256.prepare_password("\u{2168}"), "IX");
        assert_eq!(Mechanism::Sha1.prepare_password("I\u{00AD}X"), "I\u{00AD}X");
    }

    #[test]
    fn postgres_verifier_parses_and_matches() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = ScramKeys::from_password(Mechanism::Sha256, "pencil", &salt, 4096);
        let text = format!(
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==${}:{}",
            B64.encode(&keys.stored_key),
            B64.encode(&keys.server_key)
        );
        assert_eq!(parse_postgres_verifier(&text), Some(keys));
        assert_eq!(parse_postgres_verifier("md5abcdef"), None);
        assert_eq!(parse_postgres_verifier("SCRAM-SHA-256$x:y$z:w"), None);
    }

    #[test]
    fn sha1_credentials_from_base64_columns() {
        let keys = ScramKeys::from_password(Mechanism::Sha1, "digest", b"salt", 10000);
        let columns = (B64.encode(&keys.salt), B64.encode(&keys.stored_key), B64.encode(&keys.server_key));
        assert_eq!(ScramKeys::from_base64(&columns.0, 10000, &columns.1, &columns.2), Some(keys));
        assert_eq!(ScramKeys::from_base64(&columns.0, 0, &columns.1, &columns.2), None);
        assert_eq!(ScramKeys::from_base64("not base64!", 10000, &columns.1, &columns.2), None);
    }

    #[test]
    fn client_first_parsing() {
        let cf = parse_client_first(b"n,,n=a=2Cb=3Dc,r=xyz").unwrap();
        assert_eq!(cf.username, "a,b=c");
        assert_eq!(cf.gs2_header, "n,,");
        assert_eq!(cf.bare, "n=a=2Cb=3Dc,r=xyz");
        assert_eq!(parse_client_first(b"p=tls-unique,,n=a,r=b"), Err(ScramError::ChannelBindingUnsupported));
        assert!(parse_client_first(b"n,,n=a=zz,r=b").is_err());
        assert!(parse_client_first(b"n,,n=a").is_err());
        assert_eq!(parse_client_first(b"n,,n=a\0b,r=x"), Err(ScramError::Malformed("NUL in username")));
        assert!(parse_client_first(b"").is_err());
        assert!(parse_client_first(&[0xff, 0xfe]).is_err());
        assert_ne!(new_server_nonce(), new_server_nonce());
    }
}
