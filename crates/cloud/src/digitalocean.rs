//! DigitalOcean: the v2 API over HTTPS, token from the keyring.
