"""Verdicts of the gradient-masking audit and their Markdown / JSON renderings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VERDICTS = ("pass", "warn", "fail", "skip")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome.

    Attributes:
        key: short identifier (e.g. ``"zero-gradients"``).
        title: what the check asserts, in words.
        verdict: ``"pass"``, ``"warn"`` (a weaker evaluation, not masking), ``"fail"`` or
            ``"skip"``.
        message: the evidence in one sentence.
        evidence: the numbers behind the verdict.
        rule: the decision rule and its threshold.
    """

    key: str
    title: str
    verdict: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    rule: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass
class AuditReport:
    """All checks of one audit plus what was audited.

    Example:
        >>> r = AuditReport([CheckResult("x", "demo", "fail", "broken")], {"model": "m"})
        >>> r.failed, r.passed
        (['x'], False)
        >>> print(r.summary_lines()[-1])
        audit FAILED: x
    """

    checks: list[CheckResult]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Keys of the failed checks."""
        return [c.key for c in self.checks if c.verdict == "fail"]

    @property
    def warned(self) -> list[str]:
        """Keys of the checks that warn."""
        return [c.key for c in self.checks if c.verdict == "warn"]

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped checks do not fail an audit)."""
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "meta": self.meta,
            "passed": self.passed,
            "failed": self.failed,
            "warned": self.warned,
            "checks": [asdict(c) for c in self.checks],
        }

    def summary_lines(self) -> list[str]:
        """One line per check and a final verdict line (for the CLI)."""
        lines = [f"{c.verdict.upper():<5} {c.key:<20} {c.message}" for c in self.checks]
        if self.passed and self.warned:
            lines.append(f"audit passed with warnings: {', '.join(self.warned)}")
        elif self.passed:
            lines.append("audit passed: no sign of gradient masking")
        else:
            lines.append(f"audit FAILED: {', '.join(self.failed)}")
        return lines

    def to_markdown(self) -> str:
        """The report as Markdown: header, verdict table, and each check's rule and evidence."""
        m = self.meta
        head = [f"# Gradient-masking audit: {m.get('model', 'model')}", ""]
        for key in ("run", "proxy", "dataset", "defense", "n", "eps", "settings"):
            if key in m:
                head.append(f"* **{key}**: {_fmt(m[key])}")
        head.append("")
        verdict = "PASS" if self.passed else f"FAIL ({', '.join(self.failed)})"
        if self.warned:
            verdict += f", warnings: {', '.join(self.warned)}"
        head += [f"**Overall: {verdict}**", "", "| check | verdict | evidence |", "|---|---|---|"]
        rows = [f"| {_cell(c.title)} | **{c.verdict}** | {_cell(c.message)} |" for c in self.checks]
        details = ["", "## Checks", ""]
        for c in self.checks:
            details += [f"### {c.key}: {c.verdict}", "", c.title + ".", ""]
            if c.rule:
                details += [f"Rule: {c.rule}", ""]
            details += [f"Evidence: {c.message}", ""]
            details += [f"* `{k}` = {_fmt(v)}" for k, v in c.evidence.items()]
            details.append("")
        refs = [
            "Accuracies are robust accuracies (correct both clean and attacked) on the audited "
            "test points; pp = percentage points.",
            "",
            "References: Athalye, Carlini & Wagner, *Obfuscated gradients give a false sense of "
            "security* (ICML 2018); Carlini et al., *On evaluating adversarial robustness* "
            "(2019); Croce & Hein, AutoAttack `checks.py` (2020).",
            "",
        ]
        return "\n".join([*head, *rows, *details, *refs])


def _cell(text: str) -> str:
    """Escape a Markdown table cell (``|`` would split it)."""
    return text.replace("|", "\\|")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


__all__ = ["VERDICTS", "AuditReport", "CheckResult"]
