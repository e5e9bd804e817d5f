"""staged / check_out: a run replaces only an earlier run, and nothing a user owns is ever lost."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from snapshots import debris, fake_run, snapshot

from deepsets.cli import Terminated, stopping_on_signals
from deepsets.lab import output
from deepsets.lab.marker import MARKER, read_marker, remove_run
from deepsets.lab.output import OutputError, ResultsKept, RunLocked, check_out, staged

RUN = {"report.html": "old report", "metrics.json": "{}", "figures/data.png": "png"}


def write_run(tmp: Path, text: str = "new") -> None:
    """What a study writes, in miniature."""
    (tmp / "figures").mkdir()
    (tmp / "figures" / "data.png").write_text(text)
    (tmp / "report.html").write_text(text)
    (tmp / "metrics.json").write_text(json.dumps({"text": text}))


def test_a_run_records_its_id_and_every_path_it_wrote(tmp_path):
    with staged(tmp_path / "run", False) as tmp:
        write_run(tmp)
    record = json.loads((tmp_path / "run" / MARKER).read_text())
    assert record["program"] == "deepsets" and len(record["run_id"]) == 32
    assert record["paths"] == sorted(
        [MARKER, "figures/", "figures/data.png", "metrics.json", "report.html"]
    )
    assert read_marker(tmp_path / "run") == set(record["paths"])
    assert debris(tmp_path) == []


def test_overwrite_replaces_an_earlier_run_and_gives_it_a_new_id(tmp_path):
    out = fake_run(tmp_path / "run", RUN)
    first = json.loads((out / MARKER).read_text())["run_id"]
    with staged(out, True) as tmp:
        write_run(tmp)
    assert (out / "report.html").read_text() == "new"
    assert json.loads((out / MARKER).read_text())["run_id"] != first
    assert debris(tmp_path) == []


FOREIGN = {
    "no marker, a metrics.json": lambda d: (d / "metrics.json").write_text("{}"),
    "an empty metrics.json": lambda d: (d / "metrics.json").write_text(""),
    "a marker that is not JSON": lambda d: (d / MARKER).write_text("{not json"),
    "a marker of another program": lambda d: (d / MARKER).write_text(
        json.dumps({"program": "other", "run_id": "x", "paths": []})
    ),
    "a marker without paths": lambda d: (d / MARKER).write_text(
        json.dumps({"program": "deepsets", "run_id": "x"})
    ),
    "a marker listing a path outside": lambda d: (d / MARKER).write_text(
        json.dumps({"program": "deepsets", "run_id": "x", "paths": ["../thesis.tex"]})
    ),
    "a marker that is a directory": lambda d: (d / MARKER).mkdir(),
    "a marker that is a symlink": lambda d: (d / MARKER).symlink_to(d / "thesis.tex"),
}


@pytest.mark.parametrize("make", FOREIGN.values(), ids=FOREIGN.keys())
def test_overwrite_refuses_a_directory_deepsets_did_not_write(tmp_path, make):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    make(out)
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="not an earlier study's output"):
        with staged(out, True) as tmp:
            write_run(tmp)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "extra, named",
    [("notes.txt",) * 2, ("figures/mine.png",) * 2, ("data/raw.csv", "data/")],
)
def test_overwrite_refuses_an_earlier_run_with_files_it_did_not_write(tmp_path, extra, named):
    out = fake_run(tmp_path / "run", RUN)
    (out / extra).parent.mkdir(exist_ok=True)
    (out / extra).write_text("the user's")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match=f"did not write: {named}\\. "):
        check_out(out, True)
    with pytest.raises(FileExistsError, match="never deletes"):
        with staged(out, True) as tmp:
            write_run(tmp)
    assert snapshot(tmp_path) == before


def test_without_overwrite_a_finished_run_is_not_replaced(tmp_path):
    out = fake_run(tmp_path / "run", RUN)
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        with staged(out, False):
            pass
    assert snapshot(tmp_path) == before


def test_remove_run_deletes_only_the_listed_paths(tmp_path):
    d = fake_run(tmp_path / "old", RUN)
    (d / "figures" / "late.png").write_text("appeared after the check")
    remove_run(d, read_marker(d))
    assert snapshot(tmp_path) == {
        "old": "dir",
        "old/figures": "dir",
        "old/figures/late.png": b"appeared after the check",
    }


def test_overwrite_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "store").mkdir()
    target = fake_run(tmp_path / "store" / "run1", RUN)
    link = tmp_path / "latest"
    link.symlink_to(target)
    with staged(link, True) as tmp:
        write_run(tmp)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target / "report.html").read_text() == "new"
    assert debris(tmp_path, tmp_path / "store") == []


def test_a_symlink_to_a_missing_directory_gets_the_run_at_its_target(tmp_path):
    link = tmp_path / "latest"
    link.symlink_to(tmp_path / "store" / "run1")
    with staged(link, False) as tmp:
        write_run(tmp)
    assert link.is_symlink() and (tmp_path / "store" / "run1" / "report.html").is_file()
    assert debris(tmp_path, tmp_path / "store") == []


def test_a_symlink_loop_is_a_clear_error(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match="cannot be resolved"):
        check_out(loop, True)


def test_the_longest_legal_name_works(tmp_path):
    out = tmp_path / ("r" * os.pathconf(tmp_path, "PC_NAME_MAX"))
    with staged(out, False) as tmp:
        write_run(tmp)
    with staged(out, True) as tmp:
        write_run(tmp, "again")
    assert (out / "report.html").read_text() == "again" and debris(tmp_path) == []


def test_missing_parents_are_made_and_removed_again_on_failure(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError), staged(out, False):
        assert (tmp_path / "a" / "b").is_dir()
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_the_run_directory_follows_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        with staged(tmp_path / "run", False) as tmp:
            write_run(tmp)
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "run").stat().st_mode)
    assert mode == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "run" / MARKER).stat().st_mode) == 0o666 & ~mask


@pytest.fixture
def ctrl_c():
    """SIGINT and SIGTERM as `deepsets run` handles them (`cli.stopping_on_signals`), also when
    this suite runs in the background (a shell starts background jobs with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with stopping_on_signals():
        yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(
    "signum, exc", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_while_staged_removes_everything_and_restores_the_handler(
    tmp_path, signum, exc, ctrl_c
):
    old_run = fake_run(tmp_path / "run", RUN)
    before = snapshot(tmp_path)
    handler = signal.getsignal(signum)
    with pytest.raises(exc), staged(old_run, True) as tmp:
        write_run(tmp)
        os.kill(os.getpid(), signum)
        pytest.fail("the signal must interrupt the run")
    assert snapshot(tmp_path) == before
    assert signal.getsignal(signum) is handler


@pytest.mark.parametrize("step", ["make_parents", "lock", "mkdtemp"])
@pytest.mark.parametrize(
    "signum, exc", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_right_after_a_setup_step_leaves_nothing_behind(
    tmp_path, monkeypatch, step, signum, exc, ctrl_c
):
    """The signal lands just after a directory (or the lock file) was made and before staged()
    has noted it: it is acted on once the set-up is done, so the clean-up removes it all."""
    kill = lambda: os.kill(os.getpid(), signum)  # noqa: E731  # delivered at once
    if step == "make_parents":
        real_parents = output.make_parents
        monkeypatch.setattr(output, "make_parents", lambda p: (real_parents(p), kill())[0])
    elif step == "lock":
        real_flock = output.fcntl.flock
        monkeypatch.setattr(output.fcntl, "flock", lambda fd, op: (real_flock(fd, op), kill())[0])
    else:
        real_mkdtemp = output.tempfile.mkdtemp
        monkeypatch.setattr(output.tempfile, "mkdtemp",
                            lambda **k: (real_mkdtemp(**k), kill())[0])  # fmt: skip
    before = snapshot(tmp_path)
    with pytest.raises(exc), staged(tmp_path / "new" / "deeper" / "run", False) as tmp:
        pytest.fail(f"the signal must stop the run before it starts, in {tmp}")
    assert snapshot(tmp_path) == before  # no parents, no lock file, no staging directory


def test_terminated_exits_like_the_shell_says():
    assert Terminated().exit_status == 143 and "SIGTERM" in str(Terminated())


def test_a_signal_during_the_final_renames_waits_for_them():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with output.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []  # held back
        assert seen == [signal.SIGTERM]  # delivered once to the handler afterwards
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_ignored_signal_stays_ignored(tmp_path):
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with staged(tmp_path / "run", False) as tmp:
            os.kill(os.getpid(), signal.SIGTERM)  # as under nohup: nothing happens
            write_run(tmp)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_a_full_disk_mid_write_is_a_clear_error_and_leaves_the_old_run(tmp_path, code):
    out = fake_run(tmp_path / "run", RUN)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="nothing was written"), staged(out, True) as tmp:
        (tmp / "report.html").write_text("half")
        raise OSError(code, os.strerror(code))
    assert snapshot(tmp_path) == before


def test_too_little_free_space_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(output.shutil, "disk_usage", lambda p: SimpleNamespace(free=2**20))
    with pytest.raises(OutputError, match=r"only 1.0 MB free"), staged(tmp_path / "run", False):
        pytest.fail("no work may start")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_an_unwritable_location_is_refused_before_any_work(tmp_path, monkeypatch, code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(output.tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputError, match=os.strerror(code)), staged(tmp_path / "run", False):
        pytest.fail("no work may start")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused_before_any_work(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            check_out(tmp_path / "ro" / "run", False)
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert list((tmp_path / "ro").iterdir()) == []


def test_two_runs_racing_into_one_out_the_second_refuses_before_any_work(tmp_path):
    out = tmp_path / "run"
    a = staged(out, False)
    tmp_a = a.__enter__()
    with pytest.raises(RunLocked, match=f"another deepsets run \\(pid {os.getpid()}\\)"):
        with staged(out, False):
            pytest.fail("the second run started working")
    write_run(tmp_a, "a")
    a.__exit__(None, None, None)
    assert (out / "report.html").read_text() == "a"  # the finished run, untouched
    assert debris(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_directory_made_at_out_while_the_run_worked_keeps_both(tmp_path):
    out = tmp_path / "run"
    a = staged(out, False)
    write_run(a.__enter__(), "a")
    out.mkdir()
    (out / "theirs.txt").write_text("someone else's")
    with pytest.raises(ResultsKept, match="kept in") as e:
        a.__exit__(None, None, None)
    assert (out / "theirs.txt").read_text() == "someone else's"
    kept = e.value.kept_in
    assert (kept / "report.html").read_text() == "a" and read_marker(kept)
    assert set(debris(tmp_path)) == {kept}  # named in the message, nothing else left


def test_two_overwrites_racing_keep_the_first_and_refuse_the_second(tmp_path):
    out = fake_run(tmp_path / "run", RUN)
    a = staged(out, True)
    tmp_a = a.__enter__()
    with pytest.raises(RunLocked, match="Nothing was written"), staged(out, True):
        pytest.fail("the second run started working")
    write_run(tmp_a, "a")
    a.__exit__(None, None, None)
    assert (out / "report.html").read_text() == "a" and debris(tmp_path) == []
    with staged(out, True) as tmp:  # the lock is released: the next run may replace it
        write_run(tmp, "b")
    assert (out / "report.html").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no lock file left


def test_staged_works_outside_the_main_thread_without_touching_handlers(tmp_path):
    handler, errors = signal.getsignal(signal.SIGTERM), []

    def work():
        try:
            with staged(tmp_path / "run", False) as tmp:
                write_run(tmp)
        except BaseException as e:  # reported below: a thread's exception is otherwise lost
            errors.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and (tmp_path / "run" / "report.html").read_text() == "new"
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_run_finished_meanwhile_is_not_deleted_by_a_run_started_before_it(
    tmp_path, monkeypatch, capsys
):
    """Two `--overwrite` runs onto one earlier run: b starts first but reaches its output only
    after a has put its run in place. b must not delete a's finished run."""
    from dataclasses import replace

    from deepsets import cli
    from deepsets.lab.run import staging

    out = fake_run(tmp_path / "run", RUN)
    b_started, a_done = threading.Event(), threading.Event()

    def run(settings):
        name = threading.current_thread().name
        if name == "b":
            b_started.set()
            assert a_done.wait(60)  # b's work takes longer: a finishes while b works
        else:
            assert b_started.wait(60)
        with staging(settings) as stage:
            write_run(stage.tmp, name)

    study = replace(cli.STUDIES["exercise"], run=run, summary=lambda results: None)
    monkeypatch.setitem(cli.STUDIES, "exercise", study)
    codes = {}

    def main():
        name = threading.current_thread().name
        codes[name] = cli.main(["run", "--quick", "--overwrite", "--out", str(out)])
        if name == "a":
            a_done.set()

    threads = [threading.Thread(target=main, name=name) for name in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == {"a": 0, "b": 2}, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "finished after this run started" in err and "Nothing was written" in err, err
    assert (out / "report.html").read_text() == "a" and debris(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("where", ["report.html", "figures/data.png", "."])
def test_a_staging_directory_made_unwritable_mid_run_is_a_clean_output_error(tmp_path, where):
    out = fake_run(tmp_path / "run", RUN)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="nothing was written") as e, staged(out, True) as tmp:
        (tmp / "figures").mkdir()
        (tmp / "figures").chmod(0o555)
        tmp.chmod(0o555)  # as a user (or a cleaner) might; root writes on regardless
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp / where))
    assert str(tmp) in str(e.value) and "Permission denied" in str(e.value)
    assert snapshot(tmp_path) == before  # the earlier run untouched, the staging folder gone
