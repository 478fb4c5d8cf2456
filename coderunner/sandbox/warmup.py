"""Exercise the libraries once before a worker isolates itself.

After isolation a worker may run as ``nobody``, which in some installs cannot
read the Python installation (a pyenv under ``/root``), so any module a
library imports lazily on first use must already be loaded by then: pandas'
groupby and JSON paths, numpy's linalg and random, ``_strptime``, the zip
codecs behind openpyxl and python-docx, reportlab's fonts. Running a
representative program and a document round trip here loads them, and makes
the first real run as fast as the thousandth.
"""

from __future__ import annotations

import datetime as dt
import logging

from common.sandbox import OutputBuffer, SandboxPolicy, compile_program
from common.sandbox.values import decode_value, encode_value

log = logging.getLogger(__name__)

WARMUP_PROGRAM = """
import collections, datetime, decimal, functools, itertools, json, math, random, re, statistics, string
import numpy as np
import pandas as pd

frame = pd.DataFrame({
    "key": ["a", "b", "a", "c"],
    "value": [1.5, 2.0, 3.25, None],
    "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
})
grouped = frame.groupby("key", as_index=False)["value"].agg(["sum", "mean", "count", "min", "max"])
joined = frame.merge(grouped, on="key", how="left").sort_values(["key", "day"]).fillna(0)
pivot = frame.pivot_table(index="key", values="value", aggfunc="sum")
frame["month"] = frame["day"].dt.strftime("%Y-%m")
frame["upper"] = frame["key"].str.upper()
series = frame.set_index("day")["value"].resample("D").sum().rolling(2).mean()
text = joined.to_csv(index=False) + joined.to_json(orient="records") + pivot.to_string()
matrix = np.linalg.inv(np.eye(3) * 2.0)
spectrum = np.fft.fft(np.arange(8))
draws = np.random.default_rng(1).normal(size=4)
parsed = datetime.datetime.strptime("2024-02-29 10:00", "%Y-%m-%d %H:%M")
number = decimal.Decimal("1.10") * 3
stats = statistics.median([1, 3, 2])
counted = collections.Counter(re.findall(r"\\w+", "a b a"))
result = {"rows": len(joined), "json": json.loads(json.dumps({"x": [1, 2]})), "when": parsed, "n": number}
"""


def warm_up(policy: SandboxPolicy) -> None:
    """Run the warm-up program under the policy and a document round trip."""
    namespace = policy.make_globals(inputs={}, output=OutputBuffer(1 << 20))
    exec(compile_program(WARMUP_PROGRAM).code, namespace)
    decode_value(encode_value(namespace["frame"]))
    encode_value({"when": dt.datetime(2024, 1, 1), "day": dt.date(2024, 1, 1)})
    policy.take_imported()
    try:
        _documents_round_trip()
    except Exception:
        log.warning("document warm-up failed", exc_info=True)


def _documents_round_trip() -> None:
    from coderunner.documents import extract_document, render_report

    spec = {
        "title": "Warm-up",
        "blocks": [
            {"type": "heading", "text": "Warm-up", "level": 1},
            {"type": "paragraph", "text": "Ready."},
            {"type": "table", "columns": ["a", "b"], "rows": [[1, "x"], [2, "y"]]},
        ],
    }
    for fmt in ("xlsx", "docx", "pdf"):
        extract_document(f"warm-up.{fmt}", render_report(spec, fmt))
