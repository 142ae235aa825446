"""Figures that suites measure (fault scenarios, the image test), printed at the end of
the run under a heading per suite."""

FIGURES: dict[str, list[str]] = {}


def record(suite: str, line: str) -> None:
    FIGURES.setdefault(suite, []).append(line)
    print(f"\n{suite}: {line}")


def report(terminalreporter) -> None:
    for suite, lines in FIGURES.items():
        terminalreporter.section(f"{suite} figures")
        for line in lines:
            terminalreporter.write_line(line)
