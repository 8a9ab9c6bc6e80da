//! TLS server configuration (rustls with the ring provider). The certificate and key come
//! from PEM files; when they are not configured or missing, a self-signed pair is generated
//! (rcgen) and written to the configured paths (or the data directory).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

type KeyMaterial = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load(cert: &Path, key: &Path) -> Result<KeyMaterial, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("could not read TLS certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("could not read TLS key {}: {e}", key.display()))?;
    Ok((certs, key))
}

fn write_file(path: &Path, contents: &str, private: bool) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())
}

/// A fresh self-signed certificate for localhost / 127.0.0.1 / this host name.
pub fn generate_self_signed() -> Result<(String, String), String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let host = crate::host::host_name();
    if !names.contains(&host) {
        names.push(host);
    }
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("could not generate a certificate: {e}"))?;
    Ok((ck.cert.pem(), ck.key_pair.serialize_pem()))
}

/// The certificate to serve, loading or generating it as described in the module docs.
pub fn key_material(cert: Option<&Path>, key: Option<&Path>, data_dir: Option<&Path>) -> Result<KeyMaterial, String> {
    let default = |name: &str| data_dir.map(|d| d.join(name));
    let cert_path: Option<PathBuf> = cert.map(Path::to_path_buf).or_else(|| default("gateway.crt"));
    let key_path: Option<PathBuf> = key.map(Path::to_path_buf).or_else(|| default("gateway.key"));
    if let (Some(c), Some(k)) = (&cert_path, &key_path) {
        if c.exists() && k.exists() {
            return load(c, k);
        }
    }
    let (cert_pem, key_pem) = generate_self_signed()?;
    if let (Some(c), Some(k)) = (&cert_path, &key_path) {
        match write_file(k, &key_pem, true).and_then(|_| write_file(c, &cert_pem, false)) {
            Ok(()) => {
                tracing::info!(cert = %c.display(), key = %k.display(), "generated a self-signed TLS certificate")
            }
            Err(e) => tracing::warn!(
                cert = %c.display(),
                "could not write the generated TLS certificate ({e}); using it from memory"
            ),
        }
    } else {
        tracing::info!("generated an in-memory self-signed TLS certificate");
    }
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    Ok((certs, PrivateKeyDer::Pkcs8(key)))
}

pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let (certs, key) = key_material(cert, key, data_dir)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("invalid TLS certificate or key: {e}"))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_writes_and_reloads() {
        let dir = std::env::temp_dir().join(format!("gw-tls-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let cfg = server_config(None, None, Some(&dir)).unwrap();
        drop(cfg);
        assert!(dir.join("gateway.crt").exists() && dir.join("gateway.key").exists());
        let before = fs::read(dir.join("gateway.crt")).unwrap();
        server_config(None, None, Some(&dir)).unwrap();
        assert_eq!(fs::read(dir.join("gateway.crt")).unwrap(), before, "an existing pair is reused");
        fs::write(dir.join("bad.crt"), "nonsense").unwrap();
        assert!(server_config(Some(&dir.join("bad.crt")), Some(&dir.join("gateway.key")), None).is_err());
        fs::remove_dir_all(&dir).unwrap();
        assert!(server_config(None, None, None).is_ok());
    }
}
