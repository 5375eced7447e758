//! `[api]`: the bearer token of `/api`.

use secrecy::SecretString;

use super::reader::Raw;

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub token: SecretString,
}

impl Raw {
    pub(super) fn api(&mut self) -> Option<ApiSettings> {
        let token = self.secret("api", "token", "the bearer token for /api");
        Some(ApiSettings { token: token? })
    }
}
