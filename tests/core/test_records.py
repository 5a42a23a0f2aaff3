"""Reading vendor answers: a wrong shape names the read, and after a write says it may have happened."""

from __future__ import annotations

import pytest

from oncall.clients.records import answer_shape
from oncall.errors import MalformedError, UncertainError


def test_a_wrong_shape_after_a_read_is_malformed() -> None:
    with (
        pytest.raises(MalformedError, match=r"X: reading y: the answer is not in the shape X sends"),
        answer_shape("X", "reading y"),
    ):
        {}["id"]


def test_a_wrong_shape_after_a_write_is_uncertain() -> None:
    """The write reached the vendor, so its caller must treat it as maybe done (UncertainError),
    the same as a lost answer; an UnavailableError would read as 'certainly not done'."""
    with (
        pytest.raises(UncertainError, match=r"the write may have happened"),
        answer_shape("X", "creating y", write=True),
    ):
        [][0]
