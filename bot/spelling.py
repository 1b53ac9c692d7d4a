"""British to American spelling, so ``optimisation`` finds ``optimization``.

The search index stems words (``quantized`` and ``quantization`` share a stem), but a
stemmer keeps ``optimis`` and ``optim`` apart. Every word is passed through
:func:`americanize` both when papers are indexed and when a query is parsed.
"""

from __future__ import annotations

import re

# -ise/-ised/-ising words that are not British spellings of -ize words.
_ISE_EXCEPTIONS = frozenset(
    [
        "advertise",
        "advise",
        "apprise",
        "arise",
        "chastise",
        "circumcise",
        "comprise",
        "compromise",
        "concise",
        "demise",
        "despise",
        "devise",
        "disguise",
        "enterprise",
        "excise",
        "exercise",
        "expertise",
        "franchise",
        "improvise",
        "incise",
        "merchandise",
        "noise",
        "otherwise",
        "paradise",
        "poise",
        "praise",
        "precise",
        "premise",
        "promise",
        "raise",
        "revise",
        "rise",
        "supervise",
        "surmise",
        "surprise",
        "televise",
        "treatise",
        "wise",
        "clockwise",
        "likewise",
        "stepwise",
        "pairwise",
        "pointwise",
        "elementwise",
        "layerwise",
        "channelwise",
        "piecewise",
        "cruise",
        "bruise",
        "anise",
        "mortise",
    ]
)

_WHOLE_WORDS = {
    "colour": "color",
    "behaviour": "behavior",
    "neighbour": "neighbor",
    "favour": "favor",
    "honour": "honor",
    "labour": "labor",
    "flavour": "flavor",
    "humour": "humor",
    "vapour": "vapor",
    "rumour": "rumor",
    "harbour": "harbor",
    "armour": "armor",
    "centre": "center",
    "metre": "meter",
    "litre": "liter",
    "fibre": "fiber",
    "theatre": "theater",
    "spectre": "specter",
    "calibre": "caliber",
    "catalogue": "catalog",
    "dialogue": "dialog",
    "analogue": "analog",
    "programme": "program",
    "defence": "defense",
    "licence": "license",
    "offence": "offense",
    "grey": "gray",
    "artefact": "artifact",
    "aluminium": "aluminum",
    "judgement": "judgment",
    "ageing": "aging",
    "sceptical": "skeptical",
    "manoeuvre": "maneuver",
    "tumour": "tumor",
    "haemoglobin": "hemoglobin",
    "oesophagus": "esophagus",
    "paediatric": "pediatric",
    "anaemia": "anemia",
    "foetal": "fetal",
    "oestrogen": "estrogen",
    "leukaemia": "leukemia",
    "modelling": "modeling",
    "modelled": "modeled",
    "modeller": "modeler",
    "labelling": "labeling",
    "labelled": "labeled",
    "labeller": "labeler",
    "travelling": "traveling",
    "travelled": "traveled",
    "cancelling": "canceling",
    "cancelled": "canceled",
    "signalling": "signaling",
    "signalled": "signaled",
    "levelling": "leveling",
    "levelled": "leveled",
    "tunnelling": "tunneling",
    "fuelling": "fueling",
    "fuelled": "fueled",
    "channelling": "channeling",
    "channelled": "channeled",
    "totalling": "totaling",
    "totalled": "totaled",
    "counsellor": "counselor",
    "enrolment": "enrollment",
    "fulfil": "fulfill",
}
_SUFFIXES = ("s", "ed", "ing", "al", "ly", "d")


def americanize(word: str) -> str:
    """Return the American spelling of one lower-case word (unchanged when unsure)."""
    if word in _WHOLE_WORDS:
        return _WHOLE_WORDS[word]
    for suffix in _SUFFIXES:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and base in _WHOLE_WORDS:
            return _WHOLE_WORDS[base] + suffix
    if "isation" in word:
        return word.replace("isation", "ization")
    for ending in ("yse", "ysed", "yses", "ysing", "yser", "ysers"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            return word[: -len(ending)] + "yz" + ending[2:]
    if word.endswith(("wise", "noise", "noised", "noising", "noiser", "noisers")):
        return word  # stepwise, blockwise, denoise: never -ize words
    for ending in ("ise", "ised", "ises", "ising", "iser", "isers"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            stem = word[: -len(ending)]
            if stem + "ise" in _ISE_EXCEPTIONS or word in _ISE_EXCEPTIONS:
                return word
            return stem + "iz" + ending[2:]
    return word


# The whole corpus goes through americanize_text when it is indexed, and every search
# result when its matched words are found: splitting once and remembering each word's
# answer is several times faster than a regex callback per word. The vocabulary of a
# corpus is small; the memo is bounded all the same.
_WORD_RE = re.compile(r"[a-z]+")
_AMERICAN: dict[str, str] = {}
_AMERICAN_MAX = 500_000


def _remembered(word: str) -> str:
    american = americanize(word)
    if len(_AMERICAN) < _AMERICAN_MAX:
        _AMERICAN[word] = american
    return american


def americanize_text(text: str) -> str:
    """Lower-case ``text`` and americanize every word in it.

    Most texts have no British spelling at all: each distinct word is looked up once, and
    the text is rewritten only when one of them changes (indexing a paper took 360 us in
    here when every word of its abstract went through a Python list).
    """
    lowered = text.lower()
    get = _AMERICAN.get
    changed: dict[str, str] = {}
    for word in set(_WORD_RE.findall(lowered)):
        american = get(word) or _remembered(word)
        if american != word:
            changed[word] = american
    if not changed:
        return lowered
    return _WORD_RE.sub(lambda m: changed.get(m[0], m[0]), lowered)
