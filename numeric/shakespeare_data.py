"""Question 5 data: the Shakespeare corpus as word indices and CBOW (context, target) pairs.

Processing, as 5A asks:

- **Tokenisation**: lower-case the text and take the words matching ``[a-z]+(?:'[a-z]+)*``:
  runs of letters that may contain inner apostrophes, so "antony's", "o'er" and "i'll" are one
  word each, while leading or trailing apostrophes are dropped ("'tis" -> "tis", "lovers'" ->
  "lovers"). Digits and punctuation separate words.
- **Vocabulary**: words with fewer than ``min_count`` (5) occurrences are dropped from the
  stream (as word2vec does) before windows are formed; `Vocab` maps words to indices and back,
  indices in order of decreasing count (ties alphabetical), so the order is reproducible.
- **Pairs**: a sliding window of ``window`` words before and after each target (2 and 2 by
  default) gives an int64 context tensor ``(N, 2*window)`` and target tensor ``(N,)``. The
  one-hot encoding is implicit: the model gathers embedding rows by index, which equals a
  Linear layer applied to the averaged one-hot vectors (`one_hot_mean`; shown in the tests).
- **Subsampling** of frequent words (Mikolov et al. 2013): each occurrence of a word of relative
  frequency $f$ is kept with probability $\\min(1, (\\sqrt{f/t} + 1)\\, t / f)$, drawn afresh each
  epoch from a seeded generator.

Corpus files: ``<data_dir>/shakespeare/complete_works.txt`` (the Complete Works; in CI the
shared copy, checked by SHA-256) and ``tiny_shakespeare.txt`` (fast tests). Without the shared
copy, the Complete Works come from Project Gutenberg ebook #100 with its header and footer
stripped (`strip_gutenberg`), cached under the data folder.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from numeric.datasets import DataError, RemoteFile, fetch
from numeric.files import write_text_atomic

TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)*")

COMPLETE_WORKS = RemoteFile(
    "shakespeare/complete_works.txt",
    "b808f60485f036d62d06feeab16a9c8cca41affa7cd70cf18737cf354f0f2fb5",
    (),  # the shared copy; users get Gutenberg #100 instead (see load_text)
)
TINY_SHAKESPEARE = RemoteFile(
    "shakespeare/tiny_shakespeare.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    (
        "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
        "data/tinyshakespeare/input.txt",
    ),
)
GUTENBERG_100 = "https://www.gutenberg.org/cache/epub/100/pg100.txt"
CORPORA = {"complete_works": COMPLETE_WORKS, "tiny_shakespeare": TINY_SHAKESPEARE}


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` (inner apostrophes kept; see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return TOKEN_RE.findall(text.lower())


def strip_gutenberg(text: str) -> str:
    """The body of a Project Gutenberg ebook: what lies between its START and END markers."""
    start = re.search(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", text, re.M | re.I)
    end = re.search(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$", text, re.M | re.I)
    if start is None or end is None or end.start() <= start.end():
        raise ValueError("text has no Project Gutenberg START/END markers")
    return text[start.end() : end.start()].strip() + "\n"


def load_text(data_dir: Path, corpus: str = "complete_works") -> str:
    """The corpus text. ``corpus``: "complete_works" or "tiny_shakespeare"."""
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {sorted(CORPORA)}, got {corpus!r}")
    data_dir = Path(data_dir)
    remote = CORPORA[corpus]
    if corpus == "complete_works" and not (data_dir / remote.relpath).exists():
        return _gutenberg_complete_works(data_dir)
    return fetch(data_dir, remote).read_text(encoding="utf-8")


def _gutenberg_complete_works(data_dir: Path) -> str:
    cached = data_dir / "shakespeare" / "pg100_stripped.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    try:
        with urllib.request.urlopen(GUTENBERG_100, timeout=60) as resp:
            raw = resp.read().decode("utf-8-sig")
    except (OSError, urllib.error.URLError) as exc:
        raise DataError(
            f"{COMPLETE_WORKS.relpath} is not in {data_dir} and {GUTENBERG_100} could not be "
            f"downloaded ({exc}); put the text at {data_dir / COMPLETE_WORKS.relpath}"
        ) from exc
    body = strip_gutenberg(raw)
    write_text_atomic(cached, body)
    return body


@dataclass
class Vocab:
    """Words kept (count >= min_count), most frequent first; ``index`` maps a word to its row."""

    words: list[str]
    counts: list[int]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.counts):
            raise ValueError("words and counts must have the same length")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Indices of the in-vocabulary tokens (others dropped), int64."""
        idx = self.index
        return np.fromiter((idx[t] for t in tokens if t in idx), dtype=np.int64)

    def decode(self, ids: np.ndarray | list[int]) -> list[str]:
        return [self.words[int(i)] for i in ids]


def build_vocab(tokens: list[str], min_count: int = 5) -> Vocab:
    """The vocabulary of words occurring at least ``min_count`` times."""
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive int, got {min_count!r}")
    counts = Counter(tokens)
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
    if not kept:
        raise ValueError(f"no word occurs min_count={min_count} times")
    return Vocab([w for w, _ in kept], [c for _, c in kept])


@dataclass(frozen=True)
class Corpus:
    """A tokenised corpus: its vocabulary and the in-vocabulary token stream as indices."""

    name: str
    vocab: Vocab
    ids: np.ndarray  # (n,) int64, rare words removed
    n_tokens: int  # tokens before removing rare words


def load_corpus(data_dir: Path, corpus: str = "complete_works", min_count: int = 5) -> Corpus:
    tokens = tokenize(load_text(data_dir, corpus))
    vocab = build_vocab(tokens, min_count)
    return Corpus(corpus, vocab, vocab.encode(tokens), len(tokens))


def keep_probabilities(counts: list[int] | np.ndarray, sample: float) -> np.ndarray:
    """Per-word keep probability $\\min(1, (\\sqrt{f/t}+1)\\,t/f)$; ``sample`` = t (0: keep all)."""
    if not sample >= 0:
        raise ValueError(f"sample must be >= 0, got {sample!r}")
    c = np.asarray(counts, dtype=np.float64)
    if sample == 0:
        return np.ones_like(c)
    f = c / c.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The stream with each occurrence kept with probability ``keep[word]``."""
    return ids[rng.random(len(ids)) < keep[ids]]


def make_pairs(ids: np.ndarray, window: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """CBOW pairs from an index stream: contexts ``(N, 2*window)`` and targets ``(N,)``, int64.

    Position i (``window <= i < n - window``) gives target ``ids[i]`` and context
    ``ids[i-window:i] + ids[i+1:i+1+window]``; N = n - 2*window.
    """
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2 * window + 1:
        raise ValueError(f"ids must be a 1-D stream of at least {2 * window + 1} indices")
    win = np.lib.stride_tricks.sliding_window_view(ids, 2 * window + 1)
    contexts = np.concatenate([win[:, :window], win[:, window + 1 :]], axis=1)
    return torch.from_numpy(np.ascontiguousarray(contexts)), torch.from_numpy(win[:, window].copy())


def pairs_at(ids: np.ndarray, rows: np.ndarray | torch.Tensor, window: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``rows`` of ``make_pairs(ids, window)``, built without the other N - len(rows) pairs."""
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    ids = np.asarray(ids, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    n_pairs = len(ids) - 2 * window
    if rows.ndim != 1 or (len(rows) and not (0 <= rows.min() and rows.max() < n_pairs)):
        raise ValueError(f"rows must be a 1-D array of pair indices in [0, {n_pairs})")
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    centre = rows + window
    return torch.from_numpy(ids[centre[:, None] + offsets]), torch.from_numpy(ids[centre])


def one_hot_mean(contexts: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The averaged one-hot encoding of each context row, ``(N, vocab_size)`` float.

    Only for small checks: `CBOW` never builds it, it gathers rows by index instead.
    """
    oh = torch.nn.functional.one_hot(contexts, vocab_size).to(torch.get_default_dtype())
    return oh.mean(dim=1)
