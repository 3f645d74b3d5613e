//! A tenant with its own CA: TLS on 127.0.0.1, with a server certificate a
//! private CA made in the test signed, in front of the test tenant.
//!
//! The certificates come from the real `openssl` (a CA, and a server certificate
//! for `IP:127.0.0.1`); the TLS is rustls, and every byte a client sends after
//! the handshake is kept, so a test can tell what reached the server at all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The files of a private CA and of the server certificate it signed.
pub struct PrivateCa {
    folder: tempfile::TempDir,
}

impl PrivateCa {
    /// A new CA (P-256) and a server certificate for `IP:127.0.0.1`, valid 2 days.
    pub fn new() -> Self {
        let folder = tempfile::tempdir().expect("a folder for the certificates");
        let ca = Self { folder };
        ca.openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
        ca.openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test Tenant CA",
        ]);
        ca.openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"]);
        ca.openssl(&["req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
        std::fs::write(
            ca.path("server.ext"),
            "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        ca.openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        ca.openssl(&["x509", "-in", "server.pem", "-outform", "DER", "-out", "server.der"]);
        ca.openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-outform", "DER", "-out", "server.key.der"]);
        ca
    }

    /// The CA's certificate (PEM): what `tenant.ca_file` names.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The pin of the certificate (PEM) `name`, computed as the README says:
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
    pub fn pin_of(&self, name: &str) -> String {
        let pipeline = format!(
            "openssl x509 -in {name} -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64"
        );
        let output = Command::new("sh").arg("-c").arg(pipeline).current_dir(self.folder.path()).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// The server certificate's pin (the tenant's own key).
    pub fn server_pin(&self) -> String {
        self.pin_of("server.pem")
    }

    /// The CA's pin: another key than the server's.
    pub fn ca_pin(&self) -> String {
        self.pin_of("ca.pem")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    fn openssl(&self, arguments: &[&str]) {
        let output = Command::new("openssl").args(arguments).current_dir(self.folder.path()).output();
        let output = output.expect("openssl runs (apt-get install openssl)");
        assert!(output.status.success(), "openssl {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let certificate = CertificateDer::from(std::fs::read(self.path("server.der")).unwrap());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::fs::read(self.path("server.key.der")).unwrap()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .unwrap();
        Arc::new(config)
    }
}

/// TLS on a free port of 127.0.0.1, each connection's plain bytes passed to
/// `backend` and back; stopped when dropped.
pub struct TlsFront {
    address: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsFront {
    /// Serves `ca`'s server certificate in front of `backend` (`http://127.0.0.1:PORT`).
    pub fn start(ca: &PrivateCa, backend: &str) -> Self {
        let backend: SocketAddr = backend.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let acceptor = TlsAcceptor::from(ca.server_config());
        let keeping = Arc::clone(&received);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(acceptor.clone(), client, backend, Arc::clone(&keeping)));
            }
        });
        Self { address, received, runtime: Some(runtime) }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// Every byte clients sent after their handshakes, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One connection: the handshake (a client that refuses the certificate ends it
/// here), then the client's bytes, kept, to the backend, and its answer back.
async fn relay(acceptor: TlsAcceptor, client: TcpStream, backend: SocketAddr, received: Arc<Mutex<Vec<u8>>>) {
    let Ok(tls) = acceptor.accept(client).await else { return };
    let (mut from_client, mut to_client) = tokio::io::split(tls);
    let mut buffer = vec![0u8; 16 * 1024];
    let Ok(read) = from_client.read(&mut buffer).await else { return };
    if read == 0 {
        return;
    }
    received.lock().unwrap().extend_from_slice(&buffer[..read]);
    let Ok(server) = TcpStream::connect(backend).await else { return };
    let (mut from_server, mut to_server) = server.into_split();
    if to_server.write_all(&buffer[..read]).await.is_err() {
        return;
    }
    let upstream = async move {
        loop {
            match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    received.lock().unwrap().extend_from_slice(&buffer[..read]);
                    if to_server.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::select! {
        () = downstream => {}
        () = upstream => {}
    }
}
