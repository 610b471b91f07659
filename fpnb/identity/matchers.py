"""Minutiae extraction, matchers and quality behind one small interface (NIST NBIS and fingerprint-recognition).

Images are float [0, 1] with dark ridges on white, possibly soft (model outputs); they are
contrast-stretched before extraction. Minutiae follow ``fpnb.identity.minutiae``'s conventions. Each
matcher caches one template per image content, so a set of prints is extracted once and compared many
times. Pairs and set verification: ``fpnb.identity.verification``.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from fpnb.config import paths
from fpnb.files import write_text
from fpnb.identity.fields import normalise
from fpnb.identity.metrics import separation
from fpnb.identity.minutiae import BIFURCATION, ENDING, Minutiae

BACKENDS = ("nbis", "fingerprint_recognition")
# MINDTCT reliabilities below this are mostly fading-edge and background artefacts.
MIN_QUALITY = 0.2


def to_uint8(image: np.ndarray, percentile: float = 1.0) -> np.ndarray:
    """Contrast-stretched 8-bit grey image (dark ridges on white) for the extractors."""
    return np.rint(normalise(image, percentile) * 255).astype(np.uint8)


def image_key(image: np.ndarray) -> str:
    """Content hash of an image, the cache key of its template."""
    array = np.ascontiguousarray(image)
    digest = hashlib.blake2b(array.tobytes(), digest_size=16)
    digest.update(f"{array.shape}{array.dtype}".encode())
    return digest.hexdigest()


@lru_cache(maxsize=2)
def _nbis_extractor(compute_nfiq2: bool) -> Any:
    import nbis

    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=compute_nfiq2, ppi=500.0
    )
    return nbis.new_nbis_extractor(settings)


def _nbis_template(image: np.ndarray, compute_nfiq2: bool = False) -> Any:
    import cv2

    ok, png = cv2.imencode(".png", to_uint8(image))
    if not ok:
        raise ValueError("image: could not be encoded")
    return _nbis_extractor(compute_nfiq2).extract_minutiae(png.tobytes())


def _from_nbis(template: Any) -> Minutiae:
    import nbis

    found = template.get()
    return Minutiae(
        x=[m.x() for m in found],
        y=[m.y() for m in found],
        angle=[np.radians(m.angle()) for m in found],
        kind=[BIFURCATION if m.kind() == nbis.MinutiaKind.BIFURCATION else ENDING for m in found],
        quality=[m.reliability() for m in found],
    )


def _from_fingerprint_recognition(features: Any) -> Minutiae:
    from fingerprint_recognition import MinutiaKind

    found = features.minutiae
    # The package's orientations turn clockwise on screen; ours turn counter-clockwise.
    return Minutiae(
        x=[m.x for m in found],
        y=[m.y for m in found],
        angle=np.mod([-m.angle for m in found], np.pi),
        kind=[BIFURCATION if m.kind == MinutiaKind.BIFURCATION else ENDING for m in found],
        quality=np.ones(len(found)),
    )


def extract_minutiae(image: np.ndarray, backend: str = "nbis", min_quality: float = MIN_QUALITY) -> Minutiae:
    """Minutiae of a grey print; ``fingerprint_recognition`` angles are ridge orientations (mod pi)."""
    if backend == "nbis":
        minutiae = _from_nbis(_nbis_template(image))
    elif backend == "fingerprint_recognition":
        from fingerprint_recognition import extract_features

        minutiae = _from_fingerprint_recognition(extract_features(to_uint8(image)))
    else:
        raise ValueError(f"backend: unknown {backend!r}, expected one of {BACKENDS}")
    return minutiae.select(minutiae.quality >= min_quality)


def nfiq2(image: np.ndarray) -> float:
    """NIST NFIQ 2 quality score (0-100, higher is better) of a grey print."""
    return float(_nbis_template(image, compute_nfiq2=True).quality().score)


def nfiq2_table(sets: dict[str, Sequence[np.ndarray]]) -> Any:
    """DataFrame of ``nfiq2`` scores, one column per named set of prints (of equal length)."""
    import pandas as pd

    return pd.DataFrame({name: [nfiq2(image) for image in images] for name, images in sets.items()})


class Matcher(Protocol):
    """A fingerprint comparator: higher scores mean more likely the same finger."""

    name: str

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        """Similarity of two grey prints."""
        ...

    def scores(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Similarities of many pairs of grey prints."""
        ...


class _CachedMatcher:
    """Template cache keyed by image content; subclasses define ``_template`` and ``_compare``."""

    name = "base"

    def __init__(self, cache_size: int = 4096) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Any] = OrderedDict()

    def template(self, image: np.ndarray) -> Any:
        """The matcher's template of an image, extracted once and cached."""
        key = image_key(image)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        template = self._template(image)
        self._cache[key] = template
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return template

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        """Similarity of two grey prints."""
        return float(self._compare(self.template(a), self.template(b)))

    def scores(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Similarities of many pairs of grey prints."""
        return np.array([self.score(a, b) for a, b in pairs], dtype=np.float64)

    def _template(self, image: np.ndarray) -> Any:
        raise NotImplementedError

    def _compare(self, a: Any, b: Any) -> float:
        raise NotImplementedError


class Bozorth3Matcher(_CachedMatcher):
    """NIST MINDTCT minutiae + Bozorth3 (score > ~40 is a likely match at 500 ppi)."""

    name = "bozorth3"

    def _template(self, image: np.ndarray) -> Any:
        return _nbis_template(image)

    def _compare(self, a: Any, b: Any) -> float:
        return a.compare(b)


class FingerprintRecognitionMatcher(_CachedMatcher):
    """fingerprint-recognition: Gabor enhancement, ORB alignment, count of paired minutiae."""

    name = "fingerprint_recognition"

    def _template(self, image: np.ndarray) -> Any:
        from fingerprint_recognition import extract_features

        return extract_features(to_uint8(image))

    def _compare(self, a: Any, b: Any) -> float:
        from fingerprint_recognition import match_features

        return match_features(a, b).score


# Fusion: members' scores on one scale (z-norm on impostors), each weighted by its separation d'.
FUSED_MEMBERS = ("bozorth3", "fingerprint_recognition")
MATCHER_PPI = 500.0
# identities of the calibration set: far from the seeds the study's datasets and tests draw
CALIBRATION_SEED = 900_000
# a member whose template on either print has fewer minutiae than this has too little to compare
MIN_FUSION_MINUTIAE = 8
_TEMPLATE_SIZE = {
    "bozorth3": lambda template: len(template.get()),
    "fingerprint_recognition": lambda template: len(template.minutiae),
}


@dataclass(frozen=True)
class MemberCalibration:
    """One member's impostor score statistics (for z-norm) and its genuine/impostor separation d'."""

    impostor_mean: float
    impostor_std: float
    d_prime: float

    def normalise(self, score: float) -> float:
        """Score in impostor standard deviations above the impostor mean."""
        return (score - self.impostor_mean) / self.impostor_std

    @property
    def weight(self) -> float:
        """Fusion weight: a member that separates worse counts less (never zero, never negative)."""
        return max(self.d_prime, 1e-3)


def calibration_prints(n_identities: int = 12, n_impressions: int = 3) -> tuple[list[np.ndarray], np.ndarray]:
    """Deterministic synthetic impressions (fixed seeds) and their identity labels for calibrating fusion."""
    from fpnb.data.masters import make_impression, make_master

    images, labels = [], []
    for identity in range(n_identities):
        master = make_master(CALIBRATION_SEED + identity)
        for k in range(n_impressions):
            images.append(make_impression(master, seed=(CALIBRATION_SEED + identity) * 10 + k))
            labels.append(identity)
    return images, np.asarray(labels)


@lru_cache(maxsize=4)
def calibrate(members: tuple[str, ...] = FUSED_MEMBERS, n_identities: int = 12,
              n_impressions: int = 3) -> dict[str, MemberCalibration]:
    """Each member's calibration on ``calibration_prints`` (every cross-identity pair an impostor); once per
    process, and kept under ``runs/cache/`` for the next one, keyed by the prints' bytes, the members and
    the matcher libraries' versions (a change to any computes it again)."""
    from importlib.metadata import version

    images, labels = calibration_prints(n_identities, n_impressions)
    key = hashlib.sha256(json.dumps([members, version("nbis-py"), version("fingerprint-recognition")]).encode())
    for image in images:
        key.update(image_key(image).encode())
    cache = paths.runs / "cache" / f"fused-calibration-{key.hexdigest()[:16]}.json"
    if cache.exists():
        return {name: MemberCalibration(**values) for name, values in json.loads(cache.read_text()).items()}
    i, j = np.triu_indices(len(images), 1)
    same = labels[i] == labels[j]
    result = {}
    for name in members:
        scores = get_matcher(name).scores((images[a], images[b]) for a, b in zip(i, j))
        impostor = scores[~same]
        result[name] = MemberCalibration(float(impostor.mean()), float(max(impostor.std(), 1e-6)),
                                         separation(scores[same], impostor))
    write_text(cache, json.dumps({name: asdict(c) for name, c in result.items()}, indent=1) + "\n")
    return result


def resample_to_ppi(image: np.ndarray, ppi: float, target_ppi: float = MATCHER_PPI) -> np.ndarray:
    """The print rescaled from ``ppi`` to the resolution the matchers were tuned for (unchanged at equal ppi)."""
    if ppi == target_ppi:
        return image
    import cv2

    scale = target_ppi / ppi
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


class FusedMatcher:
    """Bozorth3 and fingerprint-recognition z-normalised on impostors and averaged with d' weights.

    A member is gated out of a comparison when either template has fewer than ``min_minutiae``
    minutiae (unless every member is). The calibration is computed once per process unless given.
    """

    name = "fused"

    def __init__(self, members: tuple[str, ...] = FUSED_MEMBERS, ppi: float = MATCHER_PPI,
                 calibration: dict[str, MemberCalibration] | None = None,
                 min_minutiae: int = MIN_FUSION_MINUTIAE) -> None:
        self.members = {name: get_matcher(name) for name in members}
        self.ppi = ppi
        self.min_minutiae = min_minutiae
        self._calibration = calibration

    @property
    def calibration(self) -> dict[str, MemberCalibration]:
        """Per-member calibration, computed on first use (a fresh matcher costs nothing until it scores)."""
        if self._calibration is None:
            self._calibration = calibrate(tuple(self.members))
        return self._calibration

    def template(self, image: np.ndarray) -> tuple[Any, ...]:
        """Every member's template of the print at the matchers' resolution (cached by each member)."""
        image = resample_to_ppi(image, self.ppi)
        return tuple(member.template(image) for member in self.members.values())

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        """Weighted mean of the usable members' z-scores."""
        a, b = resample_to_ppi(a, self.ppi), resample_to_ppi(b, self.ppi)
        parts = []
        for name, member in self.members.items():
            smallest = min(_TEMPLATE_SIZE[name](member.template(a)), _TEMPLATE_SIZE[name](member.template(b)))
            calibration = self.calibration[name]
            parts.append((smallest >= self.min_minutiae, calibration.weight, calibration.normalise(member.score(a, b))))
        usable = [(w, z) for ok, w, z in parts if ok] or [(w, z) for _, w, z in parts]
        return float(sum(w * z for w, z in usable) / sum(w for w, _ in usable))

    def scores(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Similarities of many pairs of grey prints."""
        return np.array([self.score(a, b) for a, b in pairs], dtype=np.float64)


MATCHERS = {cls.name: cls for cls in (Bozorth3Matcher, FingerprintRecognitionMatcher, FusedMatcher)}


def get_matcher(name: str = "bozorth3") -> Matcher:
    """A fresh matcher by name: ``bozorth3``, ``fingerprint_recognition`` or ``fused`` (both, calibrated)."""
    if name not in MATCHERS:
        raise ValueError(f"matcher: unknown {name!r}, expected one of {tuple(MATCHERS)}")
    return MATCHERS[name]()

