"""The API loads the embedding model at start-up, in the background: the first search
uses the model the start-up thread loaded instead of loading it itself."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

import dovos.embeddings
from dovos.api.app import create_app
from dovos.embeddings import SentenceTransformerEmbedder


class CountingEmbedder(SentenceTransformerEmbedder):
    """The real embedder, counting its encode calls."""

    encodes = 0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.encodes += 1
        return super().encode(texts, batch_size)


def test_first_search_after_startup_does_not_load_the_model(
    database, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    fresh = CountingEmbedder(precision="fp32")  # not the session's: nothing loaded yet
    # The search service reaches the model through dovos.embeddings.embedder_named,
    # which takes the process-wide embedder from get_embedder().
    monkeypatch.setattr(dovos.embeddings, "get_embedder", lambda name=None: fresh)
    app = create_app(database)
    assert fresh.loads == 0
    with TestClient(app) as client:  # runs the lifespan: start-up starts the preload
        assert app.state.embedder_preload.result(timeout=600) is fresh
        assert fresh.loaded and fresh.loads == 1 and fresh.encodes == 1  # the warm-up
        response = client.get("/api/search", params={"q": "hiking in spring",
                                                     "search_type": "semantic"})
        assert response.status_code == 200, response.text
    assert fresh.encodes == 2  # the search embedded its query ...
    assert fresh.loads == 1  # ... with the model loaded at start-up
