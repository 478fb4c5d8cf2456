"""Collection names and defaults of flow_automation, one place for all of them."""

from __future__ import annotations

SERVICE = "flow_automation"  # package name, metrics label and log field

SIGNING_KEYS_COLLECTION = "oauth_signing_keys"  # JWT signing keys, newest generation signs
CLIENTS_COLLECTION = "oauth_clients"  # OAuth2 clients with argon2-hashed secrets
USERS_COLLECTION = "users"  # people who log in to the web UI

SIGNING_ALGORITHM = "ES256"  # P-256 ECDSA: small keys, fast to sign and verify
KEY_RELOAD_INTERVAL_S = 60.0  # how often a replica re-reads the key set (rotation by others)
KEY_RELOAD_ON_UNKNOWN_KID_S = 1.0  # at most one re-read per second when a token names an unknown key
