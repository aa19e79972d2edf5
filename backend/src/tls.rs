//! The certificate for `--tls`: the operator's PEM files, or one made here,
//! self-signed for this machine's names and kept, so a phone that accepted
//! it once is not asked again on the next run.

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{RootCertStore, ServerConfig};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Under `--tls-dir`.
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// Apple refuses server certificates valid for longer than 825 days, even
/// ones a user accepted.
const VALIDITY: Duration = Duration::from_secs(800 * 24 * 3600);
/// A stored certificate expiring sooner than this is replaced.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid PEM: {source}")]
    Pem { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    #[error("no private key in {0}")]
    NoKey(PathBuf),
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot store the certificate in {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("unusable certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("chain", &self.chain.len()).finish_non_exhaustive()
    }
}

/// Where a self-signed certificate came from, for the startup message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfSigned {
    /// Made now: browsers warn about it once.
    Generated,
    /// The one from an earlier run, still right for this machine.
    Reused,
}

impl Identity {
    /// rustls settings serving this identity over HTTP/1.1 (the WebSocket
    /// upgrade is an HTTP/1.1 mechanism; the server speaks no HTTP/2).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The operator's certificate chain and key (PEM; the key PKCS#8, PKCS#1 or SEC1).
pub fn load(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let pem = read(cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| pem_error(cert, source))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&read(key)?) {
        Ok(der) => der,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(TlsError::NoKey(key.to_owned())),
        Err(source) => return Err(pem_error(key, source)),
    };
    Ok(Identity { chain, key })
}

/// The self-signed certificate in `dir`, or a new one stored there if it is
/// missing, unreadable, expiring or lacks one of `ips` (say the machine
/// moved to another network). Always names localhost, 127.0.0.1 and ::1.
pub fn self_signed(dir: &Path, ips: &[IpAddr]) -> Result<(Identity, SelfSigned), TlsError> {
    let names = names(ips);
    match stored(dir, &names) {
        Ok(identity) => return Ok((identity, SelfSigned::Reused)),
        Err(why) => tracing::debug!(dir = %dir.display(), why, "making a new certificate"),
    }
    let (cert_pem, key_pem) = generate(&names)?;
    write_private(dir, KEY_FILE, &key_pem)?;
    write_private(dir, CERT_FILE, &cert_pem)?;
    let identity = load(&dir.join(CERT_FILE), &dir.join(KEY_FILE))?;
    Ok((identity, SelfSigned::Generated))
}

/// `$XDG_DATA_HOME/moim/tls`, else `~/.local/share/moim/tls`, else `./.moim-tls`.
pub fn default_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|home| home.join(".local/share")))
        .map_or_else(|| PathBuf::from(".moim-tls"), |data| data.join("moim/tls"))
}

fn names(ips: &[IpAddr]) -> Vec<SanType> {
    let mut names = vec![
        SanType::DnsName("localhost".try_into().expect("ASCII")),
        SanType::IpAddress(Ipv4Addr::LOCALHOST.into()),
        SanType::IpAddress(Ipv6Addr::LOCALHOST.into()),
    ];
    for &ip in ips {
        let name = SanType::IpAddress(ip);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The stored identity if a client trusting it would accept it for every
/// name until [`RENEW_BEFORE`] from now; else why not.
fn stored(dir: &Path, names: &[SanType]) -> Result<Identity, String> {
    let identity = load(&dir.join(CERT_FILE), &dir.join(KEY_FILE)).map_err(|e| e.to_string())?;
    identity.server_config().map_err(|e| e.to_string())?;
    let cert = &identity.chain[0];
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).map_err(|e| e.to_string())?;
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build().map_err(|e| e.to_string())?;
    let then = UnixTime::since_unix_epoch(
        (SystemTime::now() + RENEW_BEFORE).duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default(),
    );
    for name in names {
        let server_name = match name {
            SanType::DnsName(dns) => ServerName::try_from(dns.as_str().to_owned()).map_err(|e| e.to_string())?,
            SanType::IpAddress(ip) => ServerName::IpAddress((*ip).into()),
            other => return Err(format!("unexpected name {other:?}")),
        };
        verifier.verify_server_cert(cert, &[], &server_name, &[], then).map_err(|e| format!("{server_name:?}: {e}"))?;
    }
    Ok(identity)
}

/// A new ECDSA P-256 certificate and key, as PEM.
fn generate(names: &[SanType]) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = names.to_vec();
    params.distinguished_name.push(DnType::CommonName, "Moim (self-signed)");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // A day back, for clocks (a phone's, say) slightly behind this one.
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(24 * 3600)).into();
    params.not_after = (now + VALIDITY).into();
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })
}

fn pem_error(path: &Path, source: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem { path: path.to_owned(), source }
}

/// Writes `dir/name` readable by this user only: it may be the private key.
fn write_private(dir: &Path, name: &str, contents: &str) -> Result<(), TlsError> {
    use std::io::Write;
    let path = dir.join(name);
    let error = |source| TlsError::Write { path: path.clone(), source };
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        dirs.mode(0o700);
        file.mode(0o600);
    }
    dirs.create(dir).map_err(error)?;
    file.open(&path).and_then(|mut f| f.write_all(contents.as_bytes())).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));

    fn files(dir: &Path) -> (Vec<u8>, Vec<u8>) {
        (std::fs::read(dir.join(CERT_FILE)).unwrap(), std::fs::read(dir.join(KEY_FILE)).unwrap())
    }

    #[test]
    fn a_stored_certificate_is_reused_until_an_address_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("moim/tls");
        let (first, how) = self_signed(&dir, &[LAN]).unwrap();
        assert_eq!(how, SelfSigned::Generated);
        first.server_config().unwrap();
        let stored = files(&dir);

        let (again, how) = self_signed(&dir, &[LAN]).unwrap();
        assert_eq!(how, SelfSigned::Reused);
        assert_eq!(again.chain, first.chain);
        assert_eq!(files(&dir), stored);

        let moved = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
        let (_, how) = self_signed(&dir, &[moved]).unwrap();
        assert_eq!(how, SelfSigned::Generated);
        assert_ne!(files(&dir).0, stored.0);
        // The new one names the old address no more, and that is fine.
        assert_eq!(self_signed(&dir, &[moved]).unwrap().1, SelfSigned::Reused);
    }

    #[test]
    fn a_damaged_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        std::fs::write(dir.path().join(CERT_FILE), "garbage").unwrap();
        assert_eq!(self_signed(dir.path(), &[]).unwrap().1, SelfSigned::Generated);
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn given_files_load_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        let (cert, key) = (dir.path().join(CERT_FILE), dir.path().join(KEY_FILE));
        load(&cert, &key).unwrap().server_config().unwrap();

        let missing = dir.path().join("nope.pem");
        let err = load(&missing, &key).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.pem"), "{err}");
        assert!(matches!(load(&key, &key), Err(TlsError::NoCertificate(_))));
        assert!(matches!(load(&cert, &cert), Err(TlsError::NoKey(_))));
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let (one, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        self_signed(one.path(), &[]).unwrap();
        self_signed(other.path(), &[]).unwrap();
        let mixed = load(&one.path().join(CERT_FILE), &other.path().join(KEY_FILE)).unwrap();
        assert!(matches!(mixed.server_config(), Err(TlsError::Rustls(_))));
    }

    #[test]
    fn the_default_dir_is_under_the_users_data() {
        let dir = default_dir();
        assert!(dir.ends_with("moim/tls") || dir == Path::new(".moim-tls"), "{dir:?}");
    }
}
