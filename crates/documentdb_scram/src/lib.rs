//! SCRAM key derivation (RFC 5802, RFC 7677) in the forms our two sides need:
//! PostgreSQL's stored SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`)
//! and MongoDB's SCRAM-SHA-1 credentials (whose "password" is `hex(md5(user:mongo:pwd))`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// PostgreSQL's (and MongoDB's default) SCRAM iteration counts.
pub const SHA256_ITERATIONS: u32 = 4096;
pub const SHA1_ITERATIONS: u32 = 10000;

/// Stored and server keys of a SCRAM credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// SASLprep as PostgreSQL applies it: the prepared string, or the raw password when it
/// isn't valid for SASLprep.
pub fn saslprep(password: &str) -> String {
    stringprep::saslprep(password).map(|p| p.into_owned()).unwrap_or_else(|_| password.to_owned())
}

/// SaltedPassword = Hi(password, salt, i) for SHA-256.
pub fn salted_password_sha256(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(saslprep(password).as_bytes(), salt, iterations, &mut out);
    out.to_vec()
}

/// SaltedPassword for MongoDB's SCRAM-SHA-1 (no SASLprep; the digest is the password).
pub fn salted_password_sha1(user: &str, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = [0u8; 20];
    pbkdf2::pbkdf2_hmac::<Sha1>(mongo_sha1_digest(user, password).as_bytes(), salt, iterations, &mut out);
    out.to_vec()
}

/// MongoDB's SCRAM-SHA-1 password: `hex(md5(user + ":mongo:" + password))`.
pub fn mongo_sha1_digest(user: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(format!("{user}:mongo:{password}").as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys from a SHA-256 salted password.
pub fn keys_sha256(salted: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let client_key = hmac_sha256(salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let server_key = hmac_sha256(salted, b"Server Key");
    ScramKeys { salt: salt.to_vec(), iterations, stored_key, server_key }
}

/// Keys from a SHA-1 salted password.
pub fn keys_sha1(salted: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let client_key = hmac_sha1(salted, b"Client Key");
    let stored_key = Sha1::digest(&client_key).to_vec();
    let server_key = hmac_sha1(salted, b"Server Key");
    ScramKeys { salt: salt.to_vec(), iterations, stored_key, server_key }
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

/// Parses PostgreSQL's SCRAM-SHA-256 verifier; `None` for other password forms.
pub fn parse_postgres_verifier(verifier: &str) -> Option<ScramKeys> {
    let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
    let (params, keys) = rest.split_once('$')?;
    let (iterations, salt) = params.split_once(':')?;
    let (stored, server) = keys.split_once(':')?;
    Some(ScramKeys {
        salt: B64.decode(salt).ok()?,
        iterations: iterations.parse().ok()?,
        stored_key: B64.decode(stored).ok()?,
        server_key: B64.decode(server).ok()?,
    })
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
            B64.encode(hmac_sha256(&keys.server_key, auth.as_bytes())),
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
}
