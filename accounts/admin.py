from django.contrib import admin

from .models import SsoIdentity


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
