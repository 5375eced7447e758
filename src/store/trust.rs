//! The certificates a `rediss://` connection trusts when `redis.ca_file` is set: the system's
//! roots and the file's. The redis crate takes one PEM bundle and trusts only it (it replaces
//! the system roots), so the bundle is both, the system's written out as PEM.

use base64::Engine as _;

/// The system roots as PEM, then `ca_pem`. A system store that cannot be read (a minimal image
/// without ca-certificates) leaves `ca_pem` alone trusted: logged, never an opening for an
/// unverified connection.
pub(super) fn roots_with(ca_pem: &[u8]) -> Vec<u8> {
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "cannot read a system CA certificate; redis.ca_file is trusted all the same");
    }
    let mut bundle = Vec::new();
    for cert in native.certs {
        bundle.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        // PEM lines are 64 characters; base64 is ASCII, so byte chunks are whole characters.
        for line in encoded.as_bytes().chunks(64) {
            bundle.extend_from_slice(line);
            bundle.push(b'\n');
        }
        bundle.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    bundle.extend_from_slice(ca_pem);
    bundle.push(b'\n');
    bundle
}
