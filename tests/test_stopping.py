"""A stop request (SIGTERM, Ctrl-C) waits while a manifest is written, but only once."""

from __future__ import annotations

import pytest

from cinelake import stopping
from cinelake.errors import Terminated


def test_a_stop_outside_a_manifest_write_is_raised_at_once() -> None:
    with pytest.raises(Terminated):
        stopping.stop(Terminated())


def test_a_stop_waits_for_the_manifest_write_under_way() -> None:
    written = []
    with pytest.raises(KeyboardInterrupt), stopping.manifest_write():
        stopping.stop(KeyboardInterrupt())
        written.append("manifest")
    assert written == ["manifest"]


def test_a_second_stop_during_the_write_goes_through_at_once() -> None:
    """A write that hangs (an S3 endpoint gone quiet) must leave the user a way out."""
    reached = []
    with pytest.raises(Terminated), stopping.manifest_write():
        stopping.stop(KeyboardInterrupt())
        stopping.stop(Terminated())
        reached.append("after the second stop")
    assert reached == []


def test_an_error_inside_the_write_drops_the_waiting_stop() -> None:
    """The run is already ending with that error; the stop must not go off later elsewhere."""
    with pytest.raises(OSError), stopping.manifest_write():
        stopping.stop(KeyboardInterrupt())
        raise OSError("disk full")
    with stopping.manifest_write():
        pass
