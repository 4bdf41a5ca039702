"""The `<reconstruction:…>` path segment: a route that takes a reconstruction resolves
only for one of `Reconstruction`'s, so an unknown name is a 404 before any view runs,
let alone writes (a reopen of /runs/383839/AAAA…/ once wrote a row with that name)."""

from django.urls import register_converter

from .models import Reconstruction


class ReconstructionConverter:
    # Longest first: "rerecoul" is tried before its prefix "rereco".
    regex = "|".join(sorted(Reconstruction.values, key=len, reverse=True))

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReconstructionConverter, "reconstruction")
