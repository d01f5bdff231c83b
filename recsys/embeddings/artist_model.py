"""Artist embeddings: ALS factors with their vocabularies, a content-addressed version and
storage, so a model is trained once per input and loaded without retraining.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recsys.embeddings.als import (
    AlsSettings,
    FloatMatrix,
    confidence,
    normalised_rows,
    top_k_cosine,
    train_factors,
)
from recsys.errors import RecsysError
from recsys.vocabulary import Vocabulary

MODEL_FILE = "model.npz"
META_FILE = "meta.json"


class ModelError(RecsysError):
    """A stored model is missing or does not match its version."""


@dataclass(frozen=True)
class ArtistModel:
    version: str
    users: Vocabulary
    artists: Vocabulary
    user_factors: FloatMatrix
    artist_factors: FloatMatrix
    neighbour_index: npt.NDArray[np.int32]  # each artist's nearest artists by cosine
    neighbour_score: FloatMatrix
    settings: AlsSettings

    def neighbours(self) -> dict[str, list[tuple[str, float]]]:
        """Each artist's nearest artists by cosine of their factors, closest first."""
        ids = self.artists.ids
        return {
            ids[row]: [
                (ids[int(j)], float(s))
                for j, s in zip(self.neighbour_index[row], self.neighbour_score[row], strict=True)
            ]
            for row in range(len(ids))
        }


def model_version(
    plays: sp.csr_matrix,
    users: Vocabulary,
    artists: Vocabulary,
    settings: AlsSettings,
    neighbours: int,
) -> str:
    """A hash of everything training depends on: same inputs and seed, same version."""
    digest = hashlib.sha256()
    csr = plays.tocsr()
    for array in (csr.indptr, csr.indices, csr.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\n".join(users.ids).encode())
    digest.update(b"\0")
    digest.update("\n".join(artists.ids).encode())
    digest.update(json.dumps([asdict(settings), neighbours], sort_keys=True).encode())
    return "als-" + digest.hexdigest()[:20]


def train_artist_model(
    plays: sp.csr_matrix,
    users: Vocabulary,
    artists: Vocabulary,
    settings: AlsSettings,
    *,
    neighbours: int,
) -> ArtistModel:
    """Train ALS on the confidence of a users × artists play matrix, then index each
    artist's ``neighbours`` nearest artists once, so serving never recomputes them."""
    user_factors, artist_factors = train_factors(confidence(plays, settings.alpha), settings)
    index, scores = top_k_cosine(normalised_rows(artist_factors), neighbours)
    return ArtistModel(
        version=model_version(plays, users, artists, settings, neighbours),
        users=users,
        artists=artists,
        user_factors=user_factors,
        artist_factors=artist_factors,
        neighbour_index=index,
        neighbour_score=scores,
        settings=settings,
    )


def save_model(root: Path, model: ArtistModel) -> Path:
    """Write ``root/<version>/`` through a staging folder; a complete copy is kept as is."""
    target = root / model.version
    if (target / META_FILE).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        with (staging / MODEL_FILE).open("wb") as handle:
            np.savez(
                handle,
                user_factors=model.user_factors,
                artist_factors=model.artist_factors,
                neighbour_index=model.neighbour_index,
                neighbour_score=model.neighbour_score,
                user_ids=np.array(model.users.ids, dtype=object).astype(str),
                artist_ids=np.array(model.artists.ids, dtype=object).astype(str),
            )
            handle.flush()
            os.fsync(handle.fileno())
        (staging / META_FILE).write_text(
            json.dumps({"version": model.version, "settings": asdict(model.settings)}, indent=1)
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def load_model(root: Path, version: str) -> ArtistModel:
    folder = root / version
    try:
        meta = json.loads((folder / META_FILE).read_text())
        with np.load(folder / MODEL_FILE, allow_pickle=False) as arrays:
            user_factors = arrays["user_factors"]
            artist_factors = arrays["artist_factors"]
            neighbour_index = arrays["neighbour_index"]
            neighbour_score = arrays["neighbour_score"]
            user_ids = [str(x) for x in arrays["user_ids"]]
            artist_ids = [str(x) for x in arrays["artist_ids"]]
    except (OSError, KeyError, ValueError) as error:
        raise ModelError(f"model {version} cannot be loaded from {folder}: {error}") from error
    if meta.get("version") != version:
        raise ModelError(f"model folder {folder} holds {meta.get('version')}, not {version}")
    return ArtistModel(
        version=version,
        users=Vocabulary(user_ids),
        artists=Vocabulary(artist_ids),
        user_factors=user_factors,
        artist_factors=artist_factors,
        neighbour_index=neighbour_index,
        neighbour_score=neighbour_score,
        settings=AlsSettings(**meta["settings"]),
    )
