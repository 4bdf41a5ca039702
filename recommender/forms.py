from django import forms

from ingestion.models import ApvMode, RunClass

from .ml.run_table import B_FIELD_ON_T
from .models import Decision, Reconstruction
from .selectors import STATUS_FILTERS


class RunFilterForm(forms.Form):
    run_class = forms.ChoiceField(choices=[("", "All classes"), *RunClass.choices], required=False)
    reconstruction = forms.ChoiceField(choices=[("", "Express or prompt"), *Reconstruction.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *STATUS_FILTERS], required=False)
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


B_FIELD_CHOICES = [("", "any"), ("on", "on (3.8 T)"), ("off", "off (0 T)")]


class DeclarationForm(forms.Form):
    """A shift leader declares a reference for a scope (the run page and /references/)."""

    run_number = forms.IntegerField(min_value=1, label="Reference run")
    reconstruction = forms.ChoiceField(choices=Reconstruction.choices)
    run_class = forms.ChoiceField(choices=RunClass.choices, label="For run class")
    from_run = forms.IntegerField(min_value=1, label="From run")
    b_field = forms.ChoiceField(choices=B_FIELD_CHOICES, required=False, label="B field")
    apv_mode = forms.ChoiceField(choices=[("", "any"), *ApvMode.choices], required=False, label="APV mode")
    beam = forms.CharField(max_length=40, required=False, help_text="OMS fill type, e.g. PROTONS, IONS; blank: any")
    beam_energy = forms.FloatField(min_value=0, required=False, label="Beam energy (GeV)", help_text="blank: any")
    note = forms.CharField(max_length=500, required=False, widget=forms.TextInput)

    def declaration(self) -> dict:
        """The cleaned fields as services.declared_reference_declare takes them."""
        data = dict(self.cleaned_data)
        b_field = data.pop("b_field")
        data["b_field_on"] = {"on": True, "off": False}.get(b_field)
        return data

    @classmethod
    def prefilled(cls, *, run, reconstruction: str) -> "DeclarationForm":
        """Prefilled with this run's own conditions: the Twiki row a leader would write for it."""
        b_field = "" if run.b_field is None else ("on" if run.b_field > B_FIELD_ON_T else "off")
        return cls(
            initial={
                "run_number": run.run_number,
                "reconstruction": reconstruction,
                "run_class": run.run_class,
                "from_run": run.run_number + 1,
                "b_field": b_field,
                "apv_mode": run.apv_mode if run.run_class == RunClass.COSMICS else "",
                "beam": run.fill_type_runtime if run.run_class != RunClass.COSMICS else "",
                "beam_energy": run.energy if run.energy and run.run_class != RunClass.COSMICS else None,
            }
        )
