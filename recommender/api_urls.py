from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import api, converters  # noqa: F401 (importing converters registers <reconstruction:>)

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("runs/", api.RunListApi.as_view(), name="run_list"),
    path(
        "runs/<int:run_number>/<reconstruction:reconstruction>/recommendations/",
        api.RecommendationApi.as_view(),
        name="recommendation_list",
    ),
    path("feedback/", api.FeedbackApi.as_view(), name="feedback"),
    path("feedback/<int:pk>/", api.FeedbackDetailApi.as_view(), name="feedback_detail"),
    path("references/", api.ReferenceListApi.as_view(), name="reference_list"),
    path("references/<int:pk>/end/", api.ReferenceEndApi.as_view(), name="reference_end"),
]
