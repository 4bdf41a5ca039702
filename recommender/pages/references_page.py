"""The references page's data: the reference in use per run class and reconstruction,
its timeline, the leaders' declarations and the groups of runs that need a reference;
and the same overview as rows for the CSV and JSON exports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ingestion.models import RunClass

from .. import ranking_reads, selectors
from ..forms import DeclarationForm
from ..models import Reconstruction
from ..rule_reasons import RUN_CLASS_WORDS, declaration_scope_words
from .timeline import timeline_svg

REFERENCE_EXPORT_FIELDS = [
    "run_class",
    "reconstruction",
    "reference_run_number",
    "is_current",
    "is_declared",
    "since_run",
    "since",
    "runs_used",
    "note",
    "dataset",
]


@dataclass(frozen=True)
class DeclarationRow:
    declaration: object  # DeclaredReference
    scope: str
    stale_reference: int | None  # what the shifters use instead, when the declaration looks stale
    stale_streak: int


@dataclass(frozen=True)
class NeededRow:
    """A group of runs that need a reference, with the fields a one-click declaration posts."""

    run_class: str
    run_class_words: str
    reconstruction: str
    reference_in_use: int
    new: str
    since_run: int
    runs_waiting: int
    proposals: list
    declare_fields: list  # (name, value) of the conditions the declaration names


@dataclass(frozen=True)
class ReferencesPage:
    """What `recommender/reference_list.html` shows; each field is the template variable
    of its name."""

    overview: selectors.ReferencesOverview
    rows: list[tuple[selectors.ReferenceInUse, str, str]]  # (reference in use, run class words, reconstruction words)
    timeline: str
    months: int
    run_classes: dict[str, str]
    reconstructions: dict[str, str]
    is_leader: bool
    declarations: list[DeclarationRow]
    needed: list[NeededRow]
    declaration_form: DeclarationForm | None

    def as_context(self) -> dict:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def needed_rows(*, with_proposals: bool) -> list[NeededRow]:
    """The groups of runs that need a reference; their proposals only `with_proposals`
    (the references page: the runs page does not show them, and they cost a ranking each)."""
    if with_proposals:
        groups = ranking_reads.references_needed_proposed()
    else:
        groups = [(g, []) for g in ranking_reads.references_needed()]
    rows = []
    for g, proposals in groups:
        c = g.conditions
        fields = [("note", f"declared for {g.new}")]
        if c.b_field == c.b_field:  # known
            fields.append(("b_field", "on" if c.b_field > 1.0 else "off"))
        if c.apv_mode and g.run_class == RunClass.COSMICS:
            fields.append(("apv_mode", c.apv_mode))
        if c.beam and g.run_class != RunClass.COSMICS:
            fields.append(("beam", c.beam))
        rows.append(
            NeededRow(
                g.run_class,
                RUN_CLASS_WORDS.get(g.run_class, g.run_class),
                g.reconstruction,
                g.reference_in_use,
                g.new,
                g.since_run,
                g.runs_waiting,
                proposals,
                fields,
            )
        )
    return rows


def _declaration_rows() -> list[DeclarationRow]:
    stale = ranking_reads.declarations_stale()
    rows = []
    for declaration in selectors.declared_references():
        instead = stale.get(declaration.pk)
        scope = declaration_scope_words(declaration)
        rows.append(DeclarationRow(declaration, scope, instead[0] if instead else None, instead[1] if instead else 0))
    return rows


def references_page_build(*, months: int, is_leader: bool) -> ReferencesPage:
    """The references page over the last `months` months of runs; a leader's has the
    declaration form."""
    overview = selectors.references_in_use(months=months)
    run_classes, recos = dict(RunClass.choices), dict(Reconstruction.choices)
    groups = [
        (f"{run_classes.get(run_class, run_class or 'class unknown')} {recos.get(reco, reco)}", segments)
        for (run_class, reco), segments in overview.timeline.items()
    ]
    svg = timeline_svg(
        title=f"Reference used per run class and reconstruction, last {months} months of runs",
        groups=groups,
        run_range=overview.run_range,
    )
    return ReferencesPage(
        overview=overview,
        rows=[
            (
                u,
                run_classes.get(u.run_class, u.run_class or "class unknown"),
                recos.get(u.reconstruction, u.reconstruction),
            )
            for u in overview.in_use
        ],
        timeline=svg,
        months=months,
        run_classes=run_classes,
        reconstructions=recos,
        is_leader=is_leader,
        declarations=_declaration_rows(),
        needed=needed_rows(with_proposals=True),
        declaration_form=DeclarationForm() if is_leader else None,
    )


def reference_export_rows(*, months: int) -> list[dict]:
    """The references in use as plain rows, REFERENCE_EXPORT_FIELDS each."""
    overview = selectors.references_in_use(months=months)
    rows = []
    for item in overview.in_use:
        row = {name: getattr(item, name) for name in REFERENCE_EXPORT_FIELDS}
        row["since"] = item.since.isoformat() if item.since else None
        rows.append(row)
    return rows
