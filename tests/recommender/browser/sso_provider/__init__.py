"""A local OpenID Connect provider standing in for CERN SSO in the browser
test: django-oauth-toolkit in OIDC mode, as its own tiny Django project, run
in its own process with its own SQLite database. Its endpoints sit at the paths
of a Keycloak realm, so RefRun is configured exactly as for CERN SSO
(OIDC_OP_REALM_URL alone).

    python -m tests.recommender.browser.sso_provider serve PORT
    python -m tests.recommender.browser.sso_provider roles USERNAME [ROLE ...]

Configured from the environment: SSO_PROVIDER_DB (SQLite file),
SSO_PROVIDER_ISSUER (the realm URL), SSO_PROVIDER_KEY (RS256 private key, PEM),
SSO_PROVIDER_CLIENT (JSON: client_id, client_secret, redirect_uri,
post_logout_redirect_uri), SSO_PROVIDER_USERS (JSON: username -> password,
given_name, roles).
"""
