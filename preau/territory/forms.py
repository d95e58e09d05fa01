from django import forms

from .models import Connectivity


class ConnectivityForm(forms.ModelForm):
    class Meta:
        model = Connectivity
        fields = ["access", "network", "operator", "bandwidth_mbps", "connected_on", "planned_on"]
        widgets = {
            "connected_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "planned_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
