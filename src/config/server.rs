//! `[server]`: where denwa listens and how the world reaches it.

use std::net::SocketAddr;

use url::Url;

use super::reader::Raw;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The URL Twilio (and chat services) reach denwa at; webhook signatures are computed over it.
    pub public_url: Url,
    /// Connections served at once; beyond it new ones wait in the listen backlog (see
    /// `server.rs`).
    pub max_connections: usize,
}

impl ServerSettings {
    /// An absolute URL under `public_url` (which may carry a path prefix) with query parameters;
    /// the URL Twilio will request, and so the one its signature covers.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.public_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&[base.as_str(), path].concat());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }
}

impl Raw {
    pub(super) fn server(&mut self) -> Option<ServerSettings> {
        let listen = self
            .string("server", "listen")
            .unwrap_or_else(|| "0.0.0.0:8080".into());
        let listen = match listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(
                    "server.listen",
                    format!("{listen:?} is not an address like 0.0.0.0:8080"),
                );
                None
            }
        };
        let public_url = self.required(
            "server",
            "public_url",
            "the https URL Twilio reaches denwa at",
        );
        let public_url = self.url("server", "public_url", public_url);
        if let Some(u) = &public_url
            && (u.query().is_some() || u.fragment().is_some())
        {
            self.problem(
                "server.public_url",
                "must not carry a query string or fragment",
            );
        }
        let max_connections = self.integer("server", "max_connections", 1024, (1, 65_536)) as usize;
        Some(ServerSettings {
            listen: listen?,
            public_url: public_url?,
            max_connections,
        })
    }
}
