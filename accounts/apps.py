from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, CERN SSO and roles"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from .roles import roles_forget

        m2m_changed.connect(roles_forget, sender=get_user_model().groups.through, dispatch_uid="refrun-roles-forget")
