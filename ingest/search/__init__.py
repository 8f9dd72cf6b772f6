"""Search by words and by meaning across every transcript passage.

`index` embeds passages as they change (the model `ingest.embed` loads, the one the taggers
use); `hybrid` ranks passages for a query: BM25 over the FTS5 passage index, cosine similarity
over the stored vectors, fused by reciprocal rank, each hit placed at the sentence that answers
it. The command line calls it directly and Datasette through a SQL function
(ingest.datasette.plugin), so both rank alike. NumPy and the model load only when a query
needs them: a lexical search imports neither.
"""
