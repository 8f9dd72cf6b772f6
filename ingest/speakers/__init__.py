"""Who speaks when: diarization of a transcribed episode, and names for its voices.

`encoder` turns stretches of audio into voice vectors (Resemblyzer's speaker encoder, whose
weights ship in its wheel; it needs PyTorch, so it is the `[speakers]` extra). `diarize` finds
the voices of an episode from those vectors and the transcript's word times; `names` gives the
voices names (the feed's people, voice prints kept in the archive, corrections by hand); `step`
is the pipeline step that does it for every transcribed episode.
"""

from __future__ import annotations

from ingest.errors import PodarchiveError

# Why an archive has no speaker labels, said once per run when the extra is missing.
INSTALL_HINT = (
    "speaker labels need the [speakers] extra: pip install torch==2.13.0 (the CPU build), "
    "then pip install 'podcast-archive[speakers]'"
)


class SpeakersUnavailable(PodarchiveError, ImportError):
    """The speaker encoder cannot be loaded (the `[speakers]` extra is not installed)."""
