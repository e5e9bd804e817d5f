"""What every study's quick run must show: the label at the top, and no verdict judged."""

from __future__ import annotations

from markupsafe import escape

from deepsets.lab.verdict import label


def assert_labelled_quick(report: str, printed: str, study: str) -> None:
    """report.html and the console summary of a `--quick` run of `study`."""
    text = label(study, True)
    assert text is not None and str(escape(text)) in report
    assert report.index("class=quick") < report.index("<h2")  # at the top of the page
    assert " ".join(printed.split()).startswith(text) or text in " ".join(printed.split())
    for shown in (report, printed):
        assert "not confirmed" not in shown and "not judged (quick run)" in shown
