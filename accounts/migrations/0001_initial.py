"""SsoIdentity, LoginThrottle and LoginKnownAddress, moved from recommender with their
tables (recommender 0006 and 0007 created them): state only, no table is touched.
recommender 0010 runs after this one and drops them from recommender's state."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="SsoIdentity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("issuer", models.CharField(max_length=255)),
                ("subject", models.CharField(max_length=255)),
                ("roles_read_at", models.DateTimeField()),
                ("refresh_token", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sso_identity",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "recommender_ssoidentity",
                "verbose_name": "SSO identity",
                "verbose_name_plural": "SSO identities",
                "constraints": [
                    models.UniqueConstraint(fields=("issuer", "subject"), name="sso_identity_unique_subject")
                ],
            },
        ),
        migrations.CreateModel(
            name="LoginThrottle",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key",
                    models.CharField(help_text="sha256 of the kind and normalised value", max_length=80, unique=True),
                ),
                ("failures", models.PositiveIntegerField(default=0)),
                ("last_failure_at", models.DateTimeField(blank=True, null=True)),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"db_table": "recommender_loginthrottle"},
        ),
        migrations.CreateModel(
            name="LoginKnownAddress",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("username_key", models.CharField(help_text="sha256 of the NFKC-normalised username", max_length=64)),
                ("address", models.CharField(help_text="sha256 of the client address", max_length=64)),
                ("last_login_at", models.DateTimeField()),
            ],
            options={
                "db_table": "recommender_loginknownaddress",
                "constraints": [
                    models.UniqueConstraint(fields=("username_key", "address"), name="login_known_address_unique")
                ],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
