//! The HTTPS listener's TLS configuration (S-TLS-1): rustls with the ring provider, TLS 1.3
//! only unless `http.tls_min_version = "1.2"`, and a self-signed localhost certificate in
//! development.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use postroute_app::config::{HttpConfig, TlsMinVersion, write_private};

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{key}: cannot use {path}: {reason}")]
    Pem {
        /// The configuration key that named the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The development certificate could not be generated or stored.
    #[error("cannot create the development certificate in {path}: {reason}")]
    SelfSigned {
        /// Where it was to be written.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate, key or protocol versions.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the development certificate and key live.
pub fn development_certificate_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let directory = data_dir.join("tls");
    (directory.join("localhost.crt"), directory.join("localhost.key"))
}

/// Builds the listener's rustls configuration from the configured files or, with none
/// configured, from the development certificate (generated on first use).
pub fn server_config(http: &HttpConfig, data_dir: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert_path, key_path) = match (&http.tls_cert, &http.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => ensure_development_certificate(data_dir)?,
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| pem_error("http.tls_cert", &cert_path, error.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error("http.tls_cert", &cert_path, "no certificate in file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|error| pem_error("http.tls_key", &key_path, error.to_string()))?;

    let versions: &[&rustls::SupportedProtocolVersion] = match http.tls_min_version {
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(key: &'static str, path: &Path, reason: String) -> TlsError {
    TlsError::Pem { key, path: path.to_path_buf(), reason }
}

fn ensure_development_certificate(data_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert_path, key_path) = development_certificate_paths(data_dir);
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    let self_signed_error =
        |reason: String| TlsError::SelfSigned { path: cert_path.clone(), reason };
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|error| self_signed_error(error.to_string()))?;
    // A half-written pair from an interrupted start is replaced as a whole.
    for stale in [&cert_path, &key_path] {
        match std::fs::remove_file(stale) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(self_signed_error(error.to_string())),
        }
    }
    write_private(&key_path, &generated.signing_key.serialize_pem())
        .map_err(|error| self_signed_error(error.to_string()))?;
    write_private(&cert_path, &generated.cert.pem())
        .map_err(|error| self_signed_error(error.to_string()))?;
    tracing::warn!(
        certificate = display(&cert_path.display()),
        "generated a self-signed certificate for localhost; browsers will warn. \
         Configure http.tls_cert and http.tls_key for anything but local development"
    );
    Ok((cert_path, key_path))
}
