"""REST API: one APIView per operation, nested input/output serializers, logic in
selectors and services. Certhelper (or a script) can call it with a token to
pre-fill its reference field."""

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsShifter, IsShiftLeader
from ingestion.models import ApvMode, RunClass

from . import ranking_reads, selectors, services
from .exceptions import (
    DecisionClosed,
    InvalidDeclaration,
    InvalidFeedback,
    ModelArtifactError,
    UnknownRunReconstruction,
)
from .models import Decision, Reconstruction
from .throttles import FeedbackWriteThrottle


def _input(api: APIView, request) -> dict[str, Any]:
    """The body of a write, as the API's InputSerializer validates it (else a 400)."""
    payload = api.InputSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class ReasonSerializer(serializers.Serializer):
    feature = serializers.CharField()
    description = serializers.CharField()
    effect = serializers.FloatField()


class SideBySideSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    run_value = serializers.JSONField(allow_null=True)
    reference_value = serializers.JSONField(allow_null=True)


class TrackerFlagsSerializer(serializers.Serializer):
    """The Run Registry's tracker flags (GOOD, BAD, STANDBY, EXCLUDED, NOTSET), null when unknown."""

    pixel = serializers.CharField(allow_null=True)
    strip = serializers.CharField(allow_null=True)
    tracking = serializers.CharField(allow_null=True)


class RunListApi(APIView):
    permission_classes = [IsShifter]
    # Declared (not only used) so the schema documents the page envelope.
    pagination_class = PageNumberPagination

    class FilterSerializer(serializers.Serializer):
        run_class = serializers.ChoiceField(choices=RunClass.choices, required=False)
        reconstruction = serializers.ChoiceField(choices=Reconstruction.choices, required=False)
        status = serializers.ChoiceField(choices=selectors.STATUS_FILTERS, required=False)
        run_min = serializers.IntegerField(min_value=1, required=False)
        run_max = serializers.IntegerField(min_value=1, required=False)

    class RecoSerializer(serializers.Serializer):
        reconstruction = serializers.CharField()
        status = serializers.CharField()
        reference_run_number = serializers.IntegerField(allow_null=True)
        recommended_run_number = serializers.IntegerField(allow_null=True)
        confidence = serializers.FloatField(allow_null=True)

    @extend_schema_serializer(component_name="Run")
    class OutputSerializer(serializers.Serializer):
        run_number = serializers.IntegerField()
        run_class = serializers.CharField()
        # The conditions (ingestion.services.conditions_sync): "" and null when unknown.
        apv_mode = serializers.CharField(help_text="DECO or PEAK; empty when unknown")
        pv_mean = serializers.FloatField(allow_null=True, help_text="mean reconstructed primary vertices per event")
        fill_number = serializers.IntegerField(source="fill.fill_number", allow_null=True, default=None)
        start_time = serializers.DateTimeField(allow_null=True)
        duration = serializers.IntegerField(allow_null=True)
        b_field = serializers.FloatField(allow_null=True)
        reconstructions = serializers.SerializerMethodField()
        tracker = serializers.SerializerMethodField()

        def get_reconstructions(self, run) -> list[dict]:
            return RunListApi.RecoSerializer(self.context["reco_rows"][run.pk], many=True).data

        @extend_schema_field(TrackerFlagsSerializer)
        def get_tracker(self, run) -> dict:
            flags = self.context["tracker_flags"].get(run.pk, selectors.UNKNOWN_TRACKER_FLAGS)
            return TrackerFlagsSerializer(flags).data

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        runs = selectors.runs_for_certification(**filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(runs, request, view=self)
        run_ids = [run.pk for run in page]
        context = {"reco_rows": selectors.reco_rows_for(run_ids), "tracker_flags": selectors.tracker_flags_for(run_ids)}
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True, context=context).data)


# The path's reconstruction is one of these (the <reconstruction:> converter); any other is a 404.
RUN_RECONSTRUCTION_PARAMETERS = [
    OpenApiParameter("run_number", int, OpenApiParameter.PATH),
    OpenApiParameter("reconstruction", str, OpenApiParameter.PATH, enum=Reconstruction.values),
]


class RecommendationListApi(APIView):
    # The recommendations of a run reconstruction, as its run page shows them: the
    # active model's stored ranking, else one computed now in memory. Reads only.
    # (Comments, not a docstring: the schema takes a view's docstring as its description.)

    permission_classes = [IsShifter]

    @extend_schema_serializer(component_name="Recommendation")
    class OutputSerializer(serializers.Serializer):
        reference_run_number = serializers.IntegerField()
        rank = serializers.IntegerField()
        score = serializers.FloatField(allow_null=True)
        model_version_id = serializers.IntegerField(allow_null=True)
        reasons = ReasonSerializer(many=True)
        side_by_side = SideBySideSerializer(many=True)

    @staticmethod
    def respond(results) -> Response:
        data = []
        for result in results:
            row = asdict(result)
            # JSON has no NaN: persistence's fallback ranking has no score.
            row["score"] = None if row["score"] != row["score"] else row["score"]
            data.append(row)
        return Response(RecommendationListApi.OutputSerializer(data, many=True).data)

    @extend_schema(
        parameters=RUN_RECONSTRUCTION_PARAMETERS,
        responses=OutputSerializer(many=True),
    )
    def get(self, request, run_number: int, reconstruction: str):
        return _recommendations_answer(ranking_reads.recommendations_shown, run_number, reconstruction)


def _recommendations_answer(read, run_number: int, reconstruction: str) -> Response:
    try:
        results = read(run_number=run_number, reconstruction=reconstruction)
    except UnknownRunReconstruction as exc:
        raise NotFound(str(exc)) from None
    except ModelArtifactError as exc:
        return Response({"detail": f"the active model cannot be used: {exc}"}, status=503)
    return RecommendationListApi.respond(results)


def _with_one_more_on_post(request, policies: list, extra: type) -> list:
    # A path that both reads and writes keeps the read's permissions or throttles and
    # adds one more for the write only: DRF asks the view for them on every request.
    if request.method == "POST":
        policies.append(extra())
    return policies


class RecommendationStoreApi(APIView):
    # A shift leader (or a script with a leader's token) stores the active model's
    # ranking of a run reconstruction now, instead of waiting for the next refresh.

    permission_classes = [IsShifter]

    def get_permissions(self):
        return _with_one_more_on_post(self.request, super().get_permissions(), IsShiftLeader)

    @extend_schema(
        description="A shift leader stores the active model's ranking now, as the refresh task does after "
        "each sync; answers the stored ranking.",
        parameters=RUN_RECONSTRUCTION_PARAMETERS,
        request=None,
        responses=RecommendationListApi.OutputSerializer(many=True),
    )
    def post(self, request, run_number: int, reconstruction: str):
        return _recommendations_answer(services.recommendations_store, run_number, reconstruction)


class RecommendationApi(RecommendationListApi, RecommendationStoreApi):
    # /api/runs/{run}/{reconstruction}/recommendations/: GET reads, POST stores.
    # Django routes a path to one view, so the path mounts both operations.
    pass


class FeedbackListApi(APIView):
    """Every decision, newest first. Decisions are part of the shared certification
    record: every shifter reads all of them, with username, time and reason, as on the
    run pages; nobody can change another's (no PUT/PATCH/DELETE)."""

    permission_classes = [IsShifter]
    # Declared (not only used) so the schema documents the page envelope.
    pagination_class = PageNumberPagination

    @extend_schema_serializer(component_name="Feedback")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        run_number = serializers.IntegerField(source="run_reconstruction.run.run_number")
        reconstruction = serializers.CharField(source="run_reconstruction.reconstruction")
        user = serializers.CharField(source="user.username", default=None)
        decision = serializers.CharField()
        recommended_run_number = serializers.IntegerField(source="recommended_reference.run_number")
        alternative_run_number = serializers.IntegerField(
            source="alternative_reference.run_number", allow_null=True, default=None
        )
        reason = serializers.CharField()
        model_version_id = serializers.IntegerField(allow_null=True)
        is_current = serializers.BooleanField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.feedback_list(), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class FeedbackCreateApi(APIView):
    """A shifter's decision on what RefRun showed (services.feedback_record)."""

    permission_classes = [IsShifter]

    @extend_schema_serializer(component_name="FeedbackInput")
    class InputSerializer(serializers.Serializer):
        run_number = serializers.IntegerField(min_value=1)
        reconstruction = serializers.ChoiceField(choices=Reconstruction.choices)
        decision = serializers.ChoiceField(choices=Decision.choices)
        recommended_run_number = serializers.IntegerField(min_value=1)
        alternative_run_number = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        model_version_id = serializers.IntegerField(required=False, allow_null=True)
        shown = serializers.CharField(
            max_length=1000,
            required=False,
            allow_blank=True,
            default="",
            help_text="the run page's signed record of the references it showed (its hidden field `shown`); "
            "without it, the decision is checked against the stored or recomputed ranking",
        )

    def get_throttles(self):
        return _with_one_more_on_post(self.request, super().get_throttles(), FeedbackWriteThrottle)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: FeedbackListApi.OutputSerializer,
            200: OpenApiResponse(
                FeedbackListApi.OutputSerializer, description="the same decision was already recorded"
            ),
            409: OpenApiResponse(description="the run reconstruction is closed for decisions"),
        },
    )
    def post(self, request):
        payload = _input(self, request)
        try:
            feedback = services.feedback_record(user=request.user, **payload)
        except DecisionClosed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except InvalidFeedback as exc:
            raise ValidationError({"detail": str(exc)}) from None
        created = getattr(feedback, "recorded_now", True)
        return Response(
            FeedbackListApi.OutputSerializer(feedback).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class FeedbackApi(FeedbackListApi, FeedbackCreateApi):
    """POST a decision; GET every decision. Decisions are part of the shared
    certification record: every shifter reads all of them, with username, time and
    reason, as on the run pages; nobody can change another's (no PUT/PATCH/DELETE)."""

    # /api/feedback/: Django routes a path to one view, so the path mounts both
    # operations (the docstring above is their description in the schema).


class FeedbackDetailApi(APIView):
    permission_classes = [IsShifter]

    @extend_schema(responses=FeedbackListApi.OutputSerializer)
    def get(self, request, pk: int):
        feedback = selectors.feedback_get(pk=pk)
        if feedback is None:
            raise NotFound("no decision with that id")
        return Response(FeedbackListApi.OutputSerializer(feedback).data)


class DeclaredReferenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run_number = serializers.IntegerField(source="run_reconstruction.run.run_number")
    reconstruction = serializers.CharField(source="run_reconstruction.reconstruction")
    run_class = serializers.CharField()
    for_reconstruction = serializers.CharField(source="reconstruction", help_text="blank: every reconstruction")
    b_field_on = serializers.BooleanField(allow_null=True)
    apv_mode = serializers.CharField()
    beam = serializers.CharField()
    beam_energy = serializers.FloatField(allow_null=True)
    from_run = serializers.IntegerField()
    until_run = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    period = serializers.CharField()
    declared_by = serializers.CharField(source="declared_by.username", allow_null=True, default=None)
    declared_at = serializers.DateTimeField(source="created_at")
    ended_by = serializers.CharField(source="ended_by.username", allow_null=True, default=None)
    ended_at = serializers.DateTimeField(allow_null=True)


class ReferenceListApi(APIView):
    """The shift leaders' declared references (GET, every shifter) and a new declaration
    (POST, shift leaders): the newest declaration covering a run is its rank 1 at once."""

    permission_classes = [IsShifter]
    # Declared (not only used) so the schema documents the page envelope.
    pagination_class = PageNumberPagination

    class FilterSerializer(serializers.Serializer):
        run_class = serializers.ChoiceField(choices=RunClass.choices, required=False)
        active = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: in use; false: ended"
        )

    @extend_schema_serializer(component_name="DeclaredReferenceInput")
    class InputSerializer(serializers.Serializer):
        run_number = serializers.IntegerField(min_value=1, help_text="the reference run")
        reconstruction = serializers.ChoiceField(choices=Reconstruction.choices)
        run_class = serializers.ChoiceField(choices=RunClass.choices, help_text="of the runs it is for")
        from_run = serializers.IntegerField(min_value=1, help_text="first run it applies to")
        note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        b_field_on = serializers.BooleanField(required=False, allow_null=True, default=None)
        apv_mode = serializers.ChoiceField(choices=ApvMode.choices, required=False, allow_blank=True, default="")
        beam = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
        beam_energy = serializers.FloatField(min_value=0, required=False, allow_null=True, default=None)
        period = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")

    def get_permissions(self):
        return _with_one_more_on_post(self.request, super().get_permissions(), IsShiftLeader)

    @extend_schema(parameters=[FilterSerializer], responses=DeclaredReferenceSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        references = selectors.declared_references(
            run_class=filters.validated_data.get("run_class") or "", in_use=filters.validated_data.get("active")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(references, request, view=self)
        return paginator.get_paginated_response(DeclaredReferenceSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: DeclaredReferenceSerializer})
    def post(self, request):
        payload = _input(self, request)
        try:
            declared = services.declared_reference_declare(user=request.user, **payload)
        except InvalidDeclaration as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(DeclaredReferenceSerializer(declared).data, status=status.HTTP_201_CREATED)


class ReferenceEndApi(APIView):
    """A shift leader ends a declaration: `until_run` is the last run it applies to.
    Nothing is deleted; the declaration stays listed with who ended it and when."""

    permission_classes = [IsShifter, IsShiftLeader]

    class InputSerializer(serializers.Serializer):
        until_run = serializers.IntegerField(min_value=1)

    @extend_schema(request=InputSerializer, responses={200: DeclaredReferenceSerializer})
    def post(self, request, pk: int):
        payload = _input(self, request)
        if selectors.declared_reference_get(pk=pk) is None:
            raise NotFound("no declared reference with that id")
        try:
            declared = services.declared_reference_end(
                user=request.user, declaration_id=pk, until_run=payload["until_run"]
            )
        except InvalidDeclaration as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(DeclaredReferenceSerializer(declared).data)
