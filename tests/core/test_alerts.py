"""Alert text: the reasons in words, the count, the feed."""

from __future__ import annotations

import pytest

from camaudit.core.alerts import alert_text
from camaudit.core.policy import Verdict


@pytest.mark.parametrize(
    ("verdict", "n", "expected"),
    [
        (
            Verdict("unconsented", ("no_notice",)),
            3,
            "3 identifiable faces filmed on 'counter' with no privacy notice registered for this camera.",
        ),
        (
            Verdict("unconsented", ("notice_missing",)),
            1,
            "1 identifiable face filmed on 'counter' while the privacy notice was not seen posted.",
        ),
        (
            Verdict("unconsented", ("notice_missing", "outside_hours", "privacy_zone")),
            2,
            "2 identifiable faces filmed on 'counter' while the privacy notice was not seen posted, "
            "outside the recording hours the notice states and inside a privacy zone where "
            "filming is never acceptable.",
        ),
        (
            Verdict("unconsented", ("outside_hours", "privacy_zone")),
            0,
            "Faces filmed on 'counter' outside the recording hours the notice states and inside "
            "a privacy zone where filming is never acceptable.",
        ),
        (Verdict("consented", (), "notice:door"), 4, "4 identifiable faces filmed on 'counter', consented (notice:door)."),
    ],
)
def test_alert_text(verdict, n, expected):
    assert alert_text(verdict, "counter", n) == expected
