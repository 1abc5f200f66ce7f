"""The one log format: rank prefix under torchrun, other ranks quiet, MODEL/train.log."""

import io
import logging

from ecgnet import logs


def _run(monkeypatch, rank, world, all_ranks=False):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world))
    stream = io.StringIO()
    logger = logging.getLogger("ecgnet")
    saved = logger.handlers[:]
    logger.handlers = []
    try:
        logs.configure(all_ranks=all_ranks, stream=stream)
        logs.configure(stream=io.StringIO())  # idempotent: no second handler
        assert sum(getattr(h, "_ecgnet", False) for h in logger.handlers) == 1
        log = logging.getLogger("ecgnet.training")
        log.info("progress")
        log.warning("trouble")
    finally:
        logger.handlers = saved
    return stream.getvalue().splitlines()


def test_single_process_lines_have_time_and_message(monkeypatch):
    lines = _run(monkeypatch, 0, 1)
    assert [line.split(" ", 1)[1] for line in lines] == ["progress", "trouble"]
    assert all(len(line.split(" ", 1)[0]) == len("12:00:00") for line in lines)


def test_other_ranks_only_warn_unless_all_ranks(monkeypatch):
    assert [line.split(" ", 1)[1] for line in _run(monkeypatch, 0, 2)] == ["[rank 0] progress", "[rank 0] trouble"]
    assert [line.split(" ", 1)[1] for line in _run(monkeypatch, 1, 2)] == ["[rank 1] trouble"]
    assert len(_run(monkeypatch, 1, 2, all_ranks=True)) == 2


def test_to_file_appends_while_the_block_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    path = tmp_path / "train.log"
    path.write_text("earlier run\n")
    log = logging.getLogger("ecgnet.training")
    logs.configure()
    with logs.to_file(path):
        log.info("inside")
    log.info("outside")
    lines = path.read_text().splitlines()
    assert lines[0] == "earlier run" and lines[1].endswith(" inside") and len(lines) == 2
