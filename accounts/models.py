"""Who may log in and how: CERN SSO identities and the failed-login counters.

The tables keep the names they had when these models lived in `recommender`
(migrations recommender 0006 and 0007), so existing databases keep their rows.
"""

from django.conf import settings
from django.db import models


class SsoIdentity(models.Model):
    """A CERN SSO identity: the provider's (issuer, subject) pair, never its
    username, names the RefRun account, so a local account with the same
    username is never handed to whoever logs in with it."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity")
    # When the roles were last read from the provider: a session or API token
    # older than OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS has them read again.
    roles_read_at = models.DateTimeField()
    # Lets an API token renew its roles without a browser; empty when the
    # provider gave none (the token then stops when its roles are overdue).
    refresh_token = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "recommender_ssoidentity"
        verbose_name = "SSO identity"
        verbose_name_plural = "SSO identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


# --- Login throttling (accounts/login.py) --------------------------------------------


class LoginThrottle(models.Model):
    """Failed logins of one username, one client address, or one username at one
    address it logged in from before. A database row, not a cache entry: never
    culled while it matters, and incremented under a row lock."""

    key = models.CharField(max_length=80, unique=True, help_text="sha256 of the kind and normalised value")
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "recommender_loginthrottle"

    def __str__(self) -> str:
        return f"{self.key[:12]}… {self.failures} failures"


class LoginKnownAddress(models.Model):
    """A client address a username logged in from: a lockout of that username does
    not apply there, so an attacker elsewhere cannot lock a shifter out of their console."""

    username_key = models.CharField(max_length=64, help_text="sha256 of the NFKC-normalised username")
    address = models.CharField(max_length=64, help_text="sha256 of the client address")
    last_login_at = models.DateTimeField()

    class Meta:
        db_table = "recommender_loginknownaddress"
        constraints = [
            models.UniqueConstraint(fields=["username_key", "address"], name="login_known_address_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.username_key[:12]}… @ {self.address[:12]}…"
