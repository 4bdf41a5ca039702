"""Simulated CMS data for the demo and for benchmarks.

`calibration` holds numbers fitted on the real dumps, `generator` builds plain
records from them with a seeded numpy Generator, `writer` stores the records
through the ORM, and `checks` measures what the recommender will see.
"""
