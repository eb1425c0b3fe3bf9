"""The blank spaCy pipeline that Rasa's SpacyNLP loads.

No trained spaCy pipeline can be downloaded here, and we do not need one: we
use spaCy only for its rule-based Persian tokenizer (which splits Latin text
too). `ensure_blank_spacy_model()` writes `spacy.blank("fa")` to
`.hamsafar/spacy/fa_blank`; config.yml names that path relative to the
project root, which is the working directory of every Rasa process we start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from bot import settings

# config.yml refers to this path relative to the project root.
RELATIVE_MODEL_PATH = Path(".hamsafar") / "spacy" / "fa_blank"
# Bump when the tokenizer rules below change, so existing copies are rewritten.
TOKENIZER_VERSION = 4
# Extra infixes: "4/5" and "8/10" (ratings) split into number, slash, number;
# a Latin/digit run glued to Persian letters splits at the script change
# ("A55رو" -> "A55", "رو"; "۵تا" after normalisation "5تا" -> "5", "تا").
EXTRA_INFIXES = [
    r"(?<=[0-9])/(?=[0-9])",
    r"(?<=[A-Za-z0-9])(?=[\u0600-\u06FF])",
    r"(?<=[\u0600-\u06FF])(?=[A-Za-z0-9])",
]
# The Persian defaults keep a sentence-final "." on Latin words ("cables.", "s24.").
EXTRA_SUFFIXES = [r"(?<=[A-Za-z0-9\u0600-\u06FF])\."]


def blank_model_path() -> Path:
    return settings.PROJECT_ROOT / RELATIVE_MODEL_PATH


def ensure_blank_spacy_model(path: Optional[Path] = None, force: bool = False) -> Path:
    """Write the blank Persian spaCy pipeline to `path` unless it is already there."""
    import spacy

    import json

    from spacy.util import compile_infix_regex, compile_suffix_regex

    target = Path(path) if path else blank_model_path()
    meta = target / "meta.json"
    if (target / "config.cfg").exists() and meta.exists() and not force:
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("hamsafar_tokenizer_version") == TOKENIZER_VERSION:
                return target
        except ValueError:
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("fa")
    infixes = list(nlp.Defaults.infixes or []) + EXTRA_INFIXES
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    suffixes = list(nlp.Defaults.suffixes or []) + EXTRA_SUFFIXES
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    nlp.meta["hamsafar_tokenizer_version"] = TOKENIZER_VERSION
    nlp.meta["name"] = "fa_blank"
    nlp.meta["description"] = "Blank Persian pipeline (tokenizer only) for Hamsafar's SpacyNLP"
    nlp.to_disk(target)
    return target
