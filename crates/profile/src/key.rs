//! 32-byte WireGuard keys (Curve25519), written as 44 characters of standard base64.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt;
use std::str::FromStr;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why a text is not a WireGuard key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not valid base64 or does not decode to exactly 32 bytes.
    #[error("not a WireGuard key: expected 44 characters of base64 encoding 32 bytes")]
    Invalid,
}

fn decode32(text: &str) -> Result<[u8; 32], KeyError> {
    if text.len() != 44 {
        return Err(KeyError::Invalid);
    }
    let bytes = STANDARD.decode(text).map_err(|_| KeyError::Invalid)?;
    bytes.try_into().map_err(|_| KeyError::Invalid)
}

/// A public key (not secret): `Display` and `FromStr` use base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        decode32(s).map(Key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A secret key (private or preshared). Zeroed on drop; `Debug` never shows it.
/// Deliberately not `Serialize`: secrets leave only through [`Secret::expose_base64`].
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret([u8; 32]);

impl Secret {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Secret(bytes)
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The base64 text of the secret, for writing a `.conf` or a keyring entry.
    pub fn expose_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A new random private key (clamped by X25519 when used).
    pub fn generate() -> Self {
        let s = x25519_dalek::StaticSecret::random_from_rng(rand_core::OsRng);
        Secret(s.to_bytes())
    }

    /// The public key of this private key.
    pub fn public_key(&self) -> Key {
        let s = x25519_dalek::StaticSecret::from(self.0);
        Key(x25519_dalek::PublicKey::from(&s).to_bytes())
    }
}

impl FromStr for Secret {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        decode32(s).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_rejects_bad_text() {
        let k: Key = "vBN7qyUTb5lJtWYJ8LhbPio1Z4RcyBPGnqFBGn6O6Qg="
            .parse()
            .unwrap();
        assert_eq!(
            k.to_string(),
            "vBN7qyUTb5lJtWYJ8LhbPio1Z4RcyBPGnqFBGn6O6Qg="
        );
        assert_eq!(
            "l0lth1s1sd3f1n1t3lybr0k3n=".parse::<Key>(),
            Err(KeyError::Invalid)
        );
        assert!("<--snip-->".parse::<Secret>().is_err());
    }

    #[test]
    fn secret_debug_is_redacted_and_public_key_matches_wg() {
        // Test vector: `echo <priv> | wg pubkey`.
        let s: Secret = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
            .parse()
            .unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(
            s.public_key().to_string(),
            "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
        );
    }
}
