//! What every request to the target carries, and what must never be written anywhere: the
//! scenario's `[http]` headers and query parameters, its TLS options, and the secrets
//! ([`secrets`]: every encoding of every secret, redacted from every output).
//!
//! A leaf: the journey file compiles an [`Access`] from the scenario, the journeys send with it,
//! and `cracks` reads a target's inboxes with it, without either knowing the other.

pub mod secrets;

use secrets::Secrets;

/// What every request to the target (its base URL and below) carries: the scenario's `[http]`
/// `headers` and `query`, rendered once at load (they may use `vars` and `${env:…}`), and the
/// values that must never be written anywhere.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// `${env:…}` values and credentials' values: redacted, in every encoding, from every output.
    pub secrets: Secrets,
    /// CA certificates (PEM) to trust besides the system's: `[http] ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate: `[http] insecure`.
    pub insecure: bool,
}

impl Access {
    /// `text` with every secret, in every encoding, replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    /// Whether a header carries credentials, and so must not follow a redirect to another origin:
    /// a credential's name, one of the scenario's `[http]` headers, or a value holding a secret.
    pub fn is_credential(&self, name: &str, value: &str) -> bool {
        names_a_credential(name)
            || self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            || self.secrets.appear_in(value)
    }

    /// `builder` with the TLS options applied.
    pub fn tls(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        if let Some(pem) = &self.ca_pem {
            // Checked at load; a file that parsed then cannot fail here.
            if let Ok(certificates) = reqwest::Certificate::from_pem_bundle(pem) {
                for certificate in certificates {
                    builder = builder.add_root_certificate(certificate);
                }
            }
        }
        builder.danger_accept_invalid_certs(self.insecure)
    }

    /// The loud warning an insecure run prints.
    pub fn insecure_warning(&self) -> Option<&'static str> {
        self.insecure.then_some(
            "WARNING: [http] insecure = true: TLS certificates are NOT checked. Anyone between \
             surge and the target can read and change this run's traffic, its keys and tokens \
             included. Use ca_file for a staging CA instead.",
        )
    }
}

/// Whether a header or query parameter of this name carries credentials (its value is then a
/// secret): `Authorization`, `Cookie`, and names with key, token, secret, passw, auth or session.
pub fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "cookie"
        || ["key", "token", "secret", "passw", "auth", "session"]
            .iter()
            .any(|word| name.contains(word))
}
