from django import forms

from ingestion.models import RunClass

from .models import Decision, Reconstruction
from .selectors import Status


class RunFilterForm(forms.Form):
    run_class = forms.ChoiceField(choices=[("", "All classes"), *RunClass.choices], required=False)
    reconstruction = forms.ChoiceField(choices=[("", "Express or prompt"), *Reconstruction.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.CHOICES], required=False)
    run_min = forms.IntegerField(min_value=1, required=False, label="From run")
    run_max = forms.IntegerField(min_value=1, required=False, label="To run")

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("run_min"), cleaned.get("run_max")
        if low and high and low > high:
            raise forms.ValidationError("'From run' must not be after 'To run'.")
        return cleaned


class RunLookupForm(forms.Form):
    run_number = forms.IntegerField(min_value=1, label="Go to run")


class FeedbackForm(forms.Form):
    """A shifter's decision on the recommended reference."""

    decision = forms.ChoiceField(choices=Decision.choices)
    recommended_run_number = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    model_version_id = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    # the page's signed record of the references it showed (recommender.shown)
    shown = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)
    alternative_run_number = forms.IntegerField(min_value=1, required=False, label="Reference used instead")
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == Decision.REJECTED and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why you reject this reference: the next shifter and the model learn from it.")
        alternative = cleaned.get("alternative_run_number")
        if alternative and alternative == cleaned.get("recommended_run_number"):
            self.add_error("alternative_run_number", "The alternative is the recommended run itself.")
        return cleaned
