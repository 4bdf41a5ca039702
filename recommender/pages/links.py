"""Links from RefRun to the CMS tools a shifter certifies with: the DQM GUI and OMS.

The base URLs are settings (DQM_GUI_URL, OMS_WEB_URL) so a test instance can be named.

DQM GUI. The GUI's `start` entry point (rovere/dqmgui, src/python/Core/GUI.py,
`Server.start`: "Jump to some content. This creates and configures a new session
with the desired content") makes a fresh session from its query string and hands
the parameters to the workspace's own `start`; they are `;`-separated key=value
pairs. No written reference of the parameter names was found (the GUI's sphinx
docs describe the server, not the URL): the names and the reference object
`other:RUN:DATASET:LABEL:` are the ones public DQM and Tracker shift scripts
build (`start?runnr=...;dataset=...;sampletype=offline_data;referencepos=overlay;
referenceshow=...;referenceobj1=other%3A<ref run>%3A<ref dataset>%3A%3A`).

OMS. The run report `/cms/runs/report?cms_run=N` and the fill report
`/cms/fills/report?cms_fill=N` are the page addresses CMS documentation and
scripts link to (no OMS document of its page URLs was found either).

Datasets. The GUI serves DQMIO datasets only (recommender.dqm_datasets says how a run's
is known): a link never names a Certhelper label; where no DQMIO name is known it names
no dataset, and the run page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.conf import settings

from ..dqm_datasets import is_dqmio


def _dataset(value: str | None) -> str:
    value = (value or "").strip()
    return value if is_dqmio(value) else ""


def _gui_value(value: str) -> str:
    # Dataset names are paths; keep the slashes and colons the GUI parses, quote the rest.
    return quote(value, safe="/:-_.")


def dqm_gui_compare_url(
    *, run_number: int, dataset: str | None, reference_run_number: int, reference_dataset: str | None
) -> str:
    """The offline DQM GUI on the run's DQMIO dataset, Tracker workspace, with the
    reference overlaid from its own; an unknown dataset is left empty, never guessed
    from the other run's (a reference of another era is filed under another name)."""
    run_dataset = _dataset(dataset)
    ref_dataset = _dataset(reference_dataset)
    parts = [f"runnr={run_number}"]
    if run_dataset:
        parts.append(f"dataset={_gui_value(run_dataset)}")
    parts += [
        "sampletype=offline_data",
        "workspace=Tracker",
        "referencepos=overlay",
        "referenceshow=all",
        f"referenceobj1=other:{reference_run_number}:{_gui_value(ref_dataset)}::",
    ]
    return settings.DQM_GUI_URL.rstrip("/") + "/start?" + ";".join(parts)


def dqm_gui_run_url(*, run_number: int, dataset: str | None) -> str:
    """The run alone in the DQM GUI (no reference to overlay)."""
    parts = [f"runnr={run_number}"]
    if _dataset(dataset):
        parts.append(f"dataset={_gui_value(_dataset(dataset))}")
    parts += ["sampletype=offline_data", "workspace=Tracker"]
    return settings.DQM_GUI_URL.rstrip("/") + "/start?" + ";".join(parts)


def oms_run_url(run_number: int) -> str:
    return f"{settings.OMS_WEB_URL.rstrip('/')}/cms/runs/report?{urlencode({'cms_run': run_number})}"


def oms_fill_url(fill_number: int) -> str:
    return f"{settings.OMS_WEB_URL.rstrip('/')}/cms/fills/report?{urlencode({'cms_fill': fill_number})}"


@dataclass(frozen=True)
class ReferenceLinks:
    compare: str  # DQM GUI, run with this reference overlaid
    oms: str  # OMS run report of the reference


def reference_links(
    *, run_number: int, dataset: str | None, reference_run_number: int, reference_dataset: str | None
) -> ReferenceLinks:
    return ReferenceLinks(
        compare=dqm_gui_compare_url(
            run_number=run_number,
            dataset=dataset,
            reference_run_number=reference_run_number,
            reference_dataset=reference_dataset,
        ),
        oms=oms_run_url(reference_run_number),
    )
