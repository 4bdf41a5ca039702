from django import forms

from ingestion.models import RunClass


class RunFilterForm(forms.Form):
    run_class = forms.ChoiceField(choices=[("", "All classes"), *RunClass.choices], required=False)
    run_min = forms.IntegerField(min_value=1, required=False, label="From run")
    run_max = forms.IntegerField(min_value=1, required=False, label="To run")

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("run_min"), cleaned.get("run_max")
        if low and high and low > high:
            raise forms.ValidationError("'From run' must not be after 'To run'.")
        return cleaned
