//! The Bedrock API key in the OS keyring: keyring-core with the Linux keyutils store.
//!
//! On a bastion there is usually no secret service, so the key goes to the kernel's keyrings:
//! the session keyring, linked into the user's persistent keyring. A key there survives logout
//! and new SSH logins for up to `/proc/sys/kernel/keys/persistent_keyring_expiry` seconds
//! after its last use (3 days by default), and **not a reboot**. The documented fallback is the
//! environment variable `AWS_BEARER_TOKEN_BEDROCK`, which the SDK reads itself.
//!
//! A process started without a session keyring of its own (SSH without `pam_keyinit`, cron,
//! sudo, a tmux server that outlived its login) cannot use the store until it joins one:
//! [`ensure_session_keyring`] does that, once, at the start of `main` (keyrings belong to the
//! thread's credentials; threads started later inherit them).
//!
//! The key never reaches config, logs, the audit log, the screen or a model: [`ApiKey`] has no
//! `Serialize`, its `Debug` prints `****`, and only the Bedrock client builder reads it.

use std::sync::Arc;

/// The keyring entry: service and user.
const SERVICE: &str = "opsdeck";
const USER: &str = "bedrock-api-key";

/// A Bedrock API key. Printed as `****`; readable only through [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::redact::MASK)
    }
}

impl ApiKey {
    /// A key as typed or stored; surrounding white space (a trailing newline) is not part of it.
    pub fn new(text: &str) -> Option<ApiKey> {
        let key = text.trim();
        (!key.is_empty()).then(|| ApiKey(key.to_string()))
    }

    /// The key itself: only the Bedrock client builder calls this.
    pub(crate) fn expose(&self) -> String {
        self.0.clone()
    }
}

/// Why the keyring could not be used, as a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the kernel keyring cannot be used here ({0})")]
pub struct KeyringError(String);

/// Join a new session keyring when the process has none of its own (or a revoked one), so the
/// keyutils store works. Call before any thread or runtime starts. `Ok(true)` when it joined.
pub fn ensure_session_keyring() -> std::io::Result<bool> {
    use linux_keyutils::{KeyRing, KeyRingIdentifier as K};
    let own = KeyRing::from_special_id(K::Session, false)
        .ok()
        .filter(|r| r.metadata().is_ok());
    let user_session = KeyRing::from_special_id(K::UserSession, false).ok();
    let needs_join = match own {
        None => true,
        // @s resolves to @us: no session keyring of its own.
        Some(s) => Some(s) == user_session,
    };
    if needs_join {
        // KEYCTL_JOIN_SESSION_KEYRING (1) with no name: a new anonymous session keyring, as
        // `keyctl new_session` makes. linux-keyutils has no wrapper for it.
        // SAFETY: keyctl with these arguments reads no memory of ours (the name is NULL).
        let r = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                1 as libc::c_long,
                std::ptr::null::<libc::c_char>(),
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(needs_join)
}

/// The store, set up once per process (the keyutils store, or a test's).
fn entry() -> Result<keyring_core::Entry, KeyringError> {
    static STORE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let ready = STORE.get_or_init(|| {
        if keyring_core::get_default_store().is_some() {
            return Ok(());
        }
        linux_keyutils_keyring_store::Store::new()
            .map(|store| keyring_core::set_default_store(store as Arc<_>))
            .map_err(|e| e.to_string())
    });
    ready.clone().map_err(KeyringError)?;
    keyring_core::Entry::new(SERVICE, USER).map_err(|e| KeyringError(e.to_string()))
}

/// Keep `key` in the keyring.
pub fn store(key: &ApiKey) -> Result<(), KeyringError> {
    entry()?
        .set_password(&key.0)
        .map_err(|e| KeyringError(e.to_string()))
}

/// The key in the keyring, `Ok(None)` when there is none.
pub fn load() -> Result<Option<ApiKey>, KeyringError> {
    match entry()?.get_password() {
        Ok(text) => Ok(ApiKey::new(&text)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(e) => Err(KeyringError(e.to_string())),
    }
}

/// Remove the key; `Ok(false)` when there was none.
pub fn delete() -> Result<bool, KeyringError> {
    match entry()?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring_core::Error::NoEntry) => Ok(false),
        Err(e) => Err(KeyringError(e.to_string())),
    }
}

/// The key the assistant uses: the keyring's, else none (the SDK then reads
/// `AWS_BEARER_TOKEN_BEDROCK` itself, else signs with the AWS credentials). A keyring that
/// cannot be used is said once in the trace log and counts as no key.
pub fn key_for_bedrock() -> Option<ApiKey> {
    match load() {
        Ok(key) => key,
        Err(e) => {
            tracing::info!(
                "Bedrock API key: {e}; using AWS_BEARER_TOKEN_BEDROCK or AWS credentials"
            );
            None
        }
    }
}

/// What `opsdeck secret set` says about where the key now lives.
pub const DURABILITY: &str = "stored in the kernel keyring (this session's keyring, linked into your persistent keyring): it survives logout and new SSH logins for up to 3 days after its last use, but NOT a reboot. After a reboot, set it again, or export AWS_BEARER_TOKEN_BEDROCK (the fallback opsdeck and the AWS SDK read).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_kept_read_back_and_removed_and_never_printed() {
        // The in-memory store: the test must not touch the kernel's keyrings.
        keyring_core::set_default_store(keyring_core::mock::Store::new().expect("mock store"));
        let key = ApiKey::new("  bedrock-api-key-ABSK123  \n").expect("a key");
        assert_eq!(format!("{key:?}"), "****");
        assert_eq!(load(), Ok(None));
        store(&key).expect("stored");
        assert_eq!(
            load().expect("read").map(|k| k.expose()).as_deref(),
            Some("bedrock-api-key-ABSK123")
        );
        assert_eq!(delete(), Ok(true));
        assert_eq!(load(), Ok(None));
        assert_eq!(delete(), Ok(false));
        assert_eq!(ApiKey::new(" \n"), None);
    }
}
