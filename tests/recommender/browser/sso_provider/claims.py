from oauth2_provider.oauth2_validators import OAuth2Validator


class CernLikeClaims(OAuth2Validator):
    """The claims CERN SSO sends RefRun: cern_upn, names, email and cern_roles
    (here the provider user's group names)."""

    # Every claim goes into the id token and userinfo, whatever the scope, as
    # CERN's client mappers do for cern_roles.
    oidc_claim_scope = None

    def get_additional_claims(self, request):
        user = request.user
        return {
            "cern_upn": user.username,
            "preferred_username": user.username,
            "given_name": user.first_name or None,
            "family_name": user.last_name or None,
            "email": user.email,
            "cern_roles": sorted(user.groups.values_list("name", flat=True)),
        }

    # prompt=none (the RP's session refresh): the authorization view has
    # already required a logged-in provider session, and the client skips
    # consent, as RefRun's registration does at CERN.
    def validate_silent_login(self, request):
        return True

    def validate_silent_authorization(self, request):
        return True
