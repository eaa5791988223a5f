"""Reports the fuzzer's tally at the end of the session (``tests/fuzz/seeds.py``)."""

from tests.fuzz.seeds import TALLY


def pytest_terminal_summary(terminalreporter):
    if TALLY["cases"]:
        answers = ", ".join(f"{TALLY[c]} {c}" for c in ("2xx", "4xx") if TALLY[c])
        terminalreporter.write_line(
            f"api fuzz: {TALLY['cases']} cases ({answers}), {TALLY['server errors']} server errors"
        )
