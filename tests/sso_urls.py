"""RefRun's URLs as a deployment with CERN SSO has them: refrun/urls.py adds
SSO_URLPATTERNS only when OIDC is on at import, and the test process imported
it with OIDC off."""

from accounts.urls import SSO_URLPATTERNS
from refrun.urls import urlpatterns as refrun_urlpatterns

urlpatterns = [*SSO_URLPATTERNS, *refrun_urlpatterns]
