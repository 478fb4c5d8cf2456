"""Identity: signing keys, OAuth2 clients, users and the authorization server."""
