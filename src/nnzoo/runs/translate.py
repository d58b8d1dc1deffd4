"""``nnzoo translate RUN_DIR "¿Dónde está la biblioteca?" ...``: new sentences through a trained
seq2seq run.

`translate` loads the run's checkpoint (`nnzoo.runs.trained.load_trained`), encodes each
sentence with the SOURCE vocabulary the run saved (``extra["source_vocabulary"]``, tokenized
with the run's ``extra["text"]`` level and case-folding; a toy run without one, such as
copy-reverse, uses its one vocabulary for both sides), decodes all of them in one batch with
`nnzoo.tasks.seq2seq.beam_search` (``beam``: the flag, else the run's ``task.options.beam``;
1 is greedy decoding) and detokenizes the result with the target vocabulary.

At most ``task.options.max_decode`` tokens are emitted, or, when that is 0, the longest
training target or twice the longest sentence given, whichever is more, plus 2.

What a user can get wrong, and what happens:

* an empty sentence (no tokens): a one-line `ConfigError`, nothing is translated;
* a sentence none of whose tokens the run's source vocabulary holds: it is translated anyway
  (every token ``<unk>``), with a note;
* a sentence longer than the run's ``data.options.max_length`` ids: CUT to its first
  ``max_length`` ids, as the training sentences were, with a note naming how many were
  dropped (not an error: the first words still translate);
* a run that is not a seq2seq run: a one-line `ConfigError`.

Notes go to stderr, one line each; translations to stdout, one line per sentence.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError  # torch and the rest load when a command runs

CHECKPOINTS = ("best", "last")


@dataclass
class Translation:
    """One sentence's translation and what happened on the way (``notes``, for stderr)."""

    source: str
    text: str
    notes: list[str] = field(default_factory=list)


def _source_vocabulary(extra: dict[str, Any], where: Path):
    from nnzoo.data.text import Vocabulary
    from nnzoo.engine.checkpoint import CheckpointError

    tokens = extra.get("source_vocabulary", extra.get("vocabulary"))
    text = extra.get("text", {"level": "word", "lower": True})
    try:
        vocab = Vocabulary(tokens, level=text["level"], lower=text["lower"])
    except (ConfigError, KeyError, TypeError):
        raise CheckpointError(
            f"{where}: its source vocabulary is missing or not one of this nnzoo (the four "
            "specials <pad> <unk> <bos> <eos> first); train the run again with this nnzoo"
        ) from None
    if len(vocab) != extra.get("num_features"):
        raise CheckpointError(
            f"{where}: its source vocabulary has {len(vocab)} tokens but its model reads "
            f"{extra.get('num_features')}; train the run again, or point at another run"
        )
    return vocab


def translate(
    run: str | Path,
    sentences: list[str],
    *,
    beam: int | None = None,
    checkpoint: str = "best",
) -> list[Translation]:
    """Translate ``sentences`` with the seq2seq run (or checkpoint file) ``run``.

    Args:
        run: a run folder of `nnzoo train` with task seq2seq, or one of its checkpoints.
        sentences: the texts, in the run's source language.
        beam: beam width (1: greedy); None: the run's ``task.options.beam``.
        checkpoint: ``"best"`` (the validation's pick) or ``"last"``.

    Returns:
        One `Translation` per sentence, in order.

    Raises:
        ConfigError: no sentences, an empty one, a bad beam, or a run that is not seq2seq.
        CheckpointError: a run folder without checkpoints, or one that does not load.
    """
    from nnzoo.data.text import UNK, encode_batch, tokenize
    from nnzoo.runs.trained import load_trained_for
    from nnzoo.tasks import create_task
    from nnzoo.tasks.seq2seq import detokenize, vocabularies

    if isinstance(sentences, str):
        raise ConfigError("translate: expected a list of sentences, got one text; wrap it in [ ]")
    if not sentences:
        raise ConfigError('nnzoo translate: no sentence given; e.g. nnzoo translate RUN "Hola."')
    if checkpoint not in CHECKPOINTS:
        raise ConfigError(f"checkpoint={checkpoint!r}: expected best or last")
    if beam is not None and (isinstance(beam, bool) or not isinstance(beam, int) or beam < 1):
        raise ConfigError(f"--beam {beam!r}: expected an integer >= 1 (1: greedy)")
    for i, sentence in enumerate(sentences, 1):
        if not isinstance(sentence, str) or not sentence.strip():
            raise ConfigError(f"sentence {i} is empty; give it words to translate")
    model, ckpt, path = load_trained_for(
        run, checkpoint, task="seq2seq", command="translate", example="tatoeba"
    )
    config = ckpt["run_config"]
    extra = ckpt["extra"]
    task = create_task(config.task)
    beam = task.beam if beam is None else beam
    vocab = _source_vocabulary(extra, path)
    max_length = config.data.options.get("max_length", 0) or None
    out = [Translation(s, "") for s in sentences]
    for i, (sentence, result) in enumerate(zip(sentences, out), 1):
        tokens = tokenize(sentence, level=vocab.level, lower=vocab.lower)
        if not tokens:
            raise ConfigError(f"sentence {i} ({sentence!r}) has no tokens; give it words")
        if max_length is not None and len(tokens) > max_length:
            result.notes.append(
                f"sentence {i} has {len(tokens)} tokens; cut to its first {max_length} (the "
                f"run's data.options.max_length), {len(tokens) - max_length} dropped"
            )
        if all(vocab.id(t) == UNK for t in tokens[:max_length]):
            result.notes.append(
                f"sentence {i}: none of its words is in the run's source vocabulary; "
                "translating it as <unk> anyway"
            )
    src, src_lengths = encode_batch(sentences, vocab, max_length=max_length)  # (N, S), (N,)
    steps = task.max_decode or max(extra.get("max_target_length", 0), 2 * src.shape[1]) + 2
    decoded = task.decode_ids(model, src, src_lengths, steps, beam)  # without gradients
    target_words, _ = vocabularies(extra)
    level = extra.get("text", {}).get("level", "word")
    for result, ids in zip(out, decoded):
        words = [target_words[t] for t in ids]
        result.text = "".join(words) if level == "char" else detokenize(words)
    return out


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``translate`` sub-command to ``nnzoo``'s sub-parsers ``sub``."""
    p = sub.add_parser(
        "translate", help="translate sentences with a trained seq2seq run (e.g. data tatoeba)"
    )
    p.add_argument("run", help="a run folder of nnzoo train (task seq2seq) or a checkpoint file")
    p.add_argument("sentences", nargs="+", metavar="SENTENCE", help="texts to translate")
    p.add_argument(
        "--beam", type=int, default=None,
        help="beam width, 1 for greedy decoding (default: the run's task.options.beam)",
    )  # fmt: skip
    p.add_argument("--checkpoint", choices=CHECKPOINTS, default="best")
    return p


def cmd_translate(args: argparse.Namespace) -> int:
    """Print one translation per sentence (notes on stderr); 0."""
    for result in translate(args.run, args.sentences, beam=args.beam, checkpoint=args.checkpoint):
        for note in result.notes:
            print(f"nnzoo: note: {note}", file=sys.stderr)
        print(result.text)
    return 0
