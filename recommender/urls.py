from django.urls import path

from . import views

app_name = "recommender"

urlpatterns = [
    path("", views.run_list, name="run_list"),
]
