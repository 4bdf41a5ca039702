from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import SsoIdentity
from .tokens import token_expires_at, token_is_expired


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    """Which account a CERN SSO identity signs in as. Changing `user` is the one
    deliberate way to link an identity to an existing (e.g. local) account."""

    list_display = ["user", "subject", "issuer", "roles_read_at"]
    search_fields = ["user__username", "subject"]
    raw_id_fields = ["user"]
    # The refresh token is a credential: never shown.
    fields = ["issuer", "subject", "user", "roles_read_at"]
    readonly_fields = ["issuer", "subject", "roles_read_at"]

    def has_add_permission(self, request) -> bool:
        return False  # identities come from logins only


# DRF's token admin, with each token's expiry (accounts.tokens) in the list.
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ExpiringTokenAdmin(TokenAdmin):
    list_display = ("key", "user", "created", "expires")

    @admin.display(description="Expires", ordering="created")
    def expires(self, token: TokenProxy) -> str:
        expires = token_expires_at(token).strftime("%Y-%m-%d %H:%M UTC")
        return f"{expires} (expired)" if token_is_expired(token) else expires
