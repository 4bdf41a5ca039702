"""factory_boy factories for the domain models. Tests build what they need
from these; no fixture files."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from accounts.roles import role_group
from ingestion.models import Fill, Lumisection, Run, RunClass
from recommender.models import DeclaredReference, LabelSource, Reconstruction, ReferencePair, RunReconstruction

RUN3_START = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or []:
            self.groups.add(role_group(name))


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill
        django_get_or_create = ("fill_number",)

    fill_number = factory.Sequence(lambda n: 9500 + n)
    start_time = factory.Sequence(lambda n: RUN3_START + dt.timedelta(hours=12 * n))
    bunches_colliding = 2340
    energy = 6800.0
    b_field = 3.8
    fill_type_runtime = "PROTONS"
    era = "Run2024C"
    peak_pileup = 62.0


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run
        django_get_or_create = ("run_number",)

    run_number = factory.Sequence(lambda n: 380000 + n)
    fill = factory.SubFactory(FillFactory)
    start_time = factory.Sequence(lambda n: RUN3_START + dt.timedelta(hours=2 * n))
    duration = 3600
    b_field = 3.8
    energy = 6800.0
    l1_hlt_mode = "collisions2024"
    run_class = RunClass.COLLISIONS_PP
    last_lumisection_number = 154
    # The tracker is in (what the work queue asks of a run, recommender.queue).
    components = factory.LazyFunction(lambda: ["DAQ", "DCS", "DQM", "ECAL", "HCAL", "PIXEL", "TCDS", "TRACKER", "TRG"])
    init_lumi = 1.8
    end_lumi = 1.2

    @classmethod
    def _generate(cls, strategy, params):
        # get-or-create by run number, but factory_boy resolves the fill SubFactory before
        # the get: asking first leaves no stray fill beside a run that already exists.
        if strategy == factory.CREATE_STRATEGY and "run_number" in params:
            existing = Run.objects.filter(run_number=params["run_number"]).first()
            if existing is not None:
                return existing
        return super()._generate(strategy, params)


class LumisectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lumisection

    run = factory.SubFactory(RunFactory)
    number = factory.Sequence(lambda n: n + 1)
    init_lumi = 1.5
    end_lumi = 1.5
    pileup = 55.0


class RunReconstructionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RunReconstruction
        django_get_or_create = ("run", "reconstruction")

    run = factory.SubFactory(RunFactory)
    reconstruction = Reconstruction.PROMPT
    dataset = "/PromptReco/Collisions2024/DQM"


class ReferencePairFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferencePair

    run_reconstruction = factory.SubFactory(RunReconstructionFactory)
    reference = factory.SubFactory(RunReconstructionFactory)
    source = LabelSource.CERTHELPER
    recorded_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))


class DeclaredReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeclaredReference

    run_reconstruction = factory.SubFactory(RunReconstructionFactory)
    run_class = RunClass.COLLISIONS_PP
    reconstruction = factory.LazyAttribute(lambda o: o.run_reconstruction.reconstruction)
    from_run = factory.LazyAttribute(lambda o: o.run_reconstruction.run.run_number + 1)
    period = "Run2024C"


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "recommender.ModelVersion"

    artifact = factory.Sequence(lambda n: f"model-test-{n}.joblib")
    sha256 = "0" * 64
    library_versions = factory.LazyFunction(dict)
    label_fingerprint = factory.Sequence(lambda n: f"{n:064x}")
    status = "candidate"
    # As model_version_activate leaves it: an active or retired version was active once.
    was_ever_active = factory.LazyAttribute(lambda version: version.status in {"active", "retired"})


def ranking_shown(*, run_number: int, reconstruction: str, references: list[int], version=None):
    """The ranking RefRun showed for a run reconstruction, stored as a model version's
    recommendations (ranks 1..n), so a decision on any of them is taken; returns the version."""
    from recommender.models import Recommendation

    version = version or ModelVersionFactory(status="active")
    target = RunReconstructionFactory(run=RunFactory(run_number=run_number), reconstruction=reconstruction)
    for rank, number in enumerate(references, start=1):
        Recommendation.objects.create(
            run_reconstruction=target,
            reference=RunFactory(run_number=number),
            model_version=version,
            rank=rank,
            score=0.5,
        )
    return version
