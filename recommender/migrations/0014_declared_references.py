from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.models import Q

# Shift leaders declare and end references; nobody deletes one (the history stays).
# Frozen here on purpose: accounts.roles.SHIFT_LEADER_PERMISSIONS is the live list.
LEADER_DECLARATION_PERMISSIONS = ["add_declaredreference", "change_declaredreference", "view_declaredreference"]
B_FIELD_ON_T = 1.0


def curated_to_declared(apps, schema_editor):
    """Each curated reference becomes a declaration of its run class and reconstruction.
    Its first run is the first run started at or after `active_from` (else the reference's
    own run), its last the last run started before `active_until`; the conditions are the
    reference's own B field state and, for cosmics, its APV mode."""
    Curated = apps.get_model("recommender", "CuratedReference")
    Declared = apps.get_model("recommender", "DeclaredReference")
    Run = apps.get_model("ingestion", "Run")
    for row in Curated.objects.select_related("run_reconstruction__run").order_by("pk"):
        reference = row.run_reconstruction.run
        from_run = reference.run_number
        if row.active_from is not None:
            first = Run.objects.filter(start_time__gte=row.active_from).order_by("run_number").first()
            from_run = first.run_number if first else from_run
        until_run = None
        if row.active_until is not None:
            last = Run.objects.filter(start_time__lt=row.active_until).order_by("-run_number").first()
            until_run = max(last.run_number if last else from_run, from_run)
        Declared.objects.create(
            run_reconstruction_id=row.run_reconstruction_id,
            run_class=row.run_class,
            reconstruction=row.run_reconstruction.reconstruction,
            b_field_on=None if reference.b_field is None else reference.b_field > B_FIELD_ON_T,
            apv_mode=reference.apv_mode if row.run_class == "cosmics" else "",
            from_run=from_run,
            until_run=until_run,
            note=row.notes,
            period=row.period,
            ended_at=row.active_until,
        )


def leaders_may_declare(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    leaders = Group.objects.filter(name="shift_leaders").first()
    if leaders is not None:
        leaders.permissions.add(
            *Permission.objects.filter(content_type__app_label="recommender", codename__in=LEADER_DECLARATION_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0013_recommendation_unique_rank"),
        ("ingestion", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DeclaredReference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "run_class",
                    models.CharField(
                        choices=[
                            ("collisions_pp", "Collisions pp"),
                            ("heavy_ion", "Heavy ion"),
                            ("cosmics", "Cosmics"),
                            ("commissioning", "Commissioning"),
                            ("special", "Special"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "reconstruction",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("online", "Online"),
                            ("express", "Express"),
                            ("prompt", "Prompt"),
                            ("rereco", "ReReco"),
                            ("rerecoul", "ReReco UL"),
                        ],
                        help_text="Of the runs it is for; blank: every one",
                        max_length=10,
                    ),
                ),
                (
                    "b_field_on",
                    models.BooleanField(
                        blank=True, help_text="Solenoid on (above 1 T, i.e. 3.8 T) or off (0 T); empty: any", null=True
                    ),
                ),
                (
                    "apv_mode",
                    models.CharField(
                        blank=True,
                        choices=[("DECO", "Deconvolution"), ("PEAK", "Peak")],
                        help_text="Strip APV readout mode (cosmics); blank: any",
                        max_length=4,
                    ),
                ),
                (
                    "beam",
                    models.CharField(
                        blank=True, help_text="OMS fill type at run time, e.g. PROTONS, IONS; blank: any", max_length=40
                    ),
                ),
                (
                    "beam_energy",
                    models.FloatField(blank=True, help_text="Beam energy, GeV, matched within 2%; empty: any", null=True),
                ),
                ("from_run", models.PositiveIntegerField(help_text="First run it applies to")),
                (
                    "until_run",
                    models.PositiveIntegerField(
                        blank=True, help_text="Last run it applied to; empty while in use", null=True
                    ),
                ),
                ("note", models.TextField(blank=True)),
                (
                    "period",
                    models.CharField(
                        blank=True, help_text="Data-taking period or era, e.g. Run2018D, Cosmics2024", max_length=60
                    ),
                ),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "declared_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ended_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "run_reconstruction",
                    models.ForeignKey(
                        help_text="The reference: its run and the reconstruction to compare with",
                        on_delete=models.deletion.CASCADE,
                        related_name="declarations",
                        to="recommender.runreconstruction",
                    ),
                ),
            ],
            options={
                "ordering": ["-from_run", "-created_at"],
                "indexes": [models.Index(fields=["run_class", "-from_run"], name="declared_class_from_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=Q(until_run__isnull=True) | Q(until_run__gte=models.F("from_run")),
                        name="declared_until_not_before_from",
                    )
                ],
            },
        ),
        migrations.RunPython(curated_to_declared, migrations.RunPython.noop),
        migrations.DeleteModel(name="CuratedReference"),
        migrations.RunPython(leaders_may_declare, migrations.RunPython.noop),
    ]
