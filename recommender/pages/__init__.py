"""What the shifter's pages show, built from reads: the top layer with the views and the API.

A builder here reads through selectors, ranking_reads and recommending and turns the results
into what a template shows; it never writes. Nothing below imports a page module, except the
words of a reason (`reasons`, which the ranking stores) and the page's signed record
(`shown`, which the decision service checks).
"""
