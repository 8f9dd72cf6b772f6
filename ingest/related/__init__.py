"""Related moments: the passages of other episodes nearest in meaning to an episode's own, and
for each topic the passages nearest its moments in episodes not tagged with it.

Computed at build time from the stored passage vectors (ingest.search), incrementally: `step`
recomputes the lists whose inputs changed and offers the new passages to every other list,
which takes them only where they beat what it holds; `nearest` is the vector work (NumPy, in
blocks), `quotes` picks the sentence of a passage each card quotes and when it is said.
"""
