"""`notice print` with a notice's `public_page`: the sign's QR decodes to the hub's public
page (marker as its fragment); the printed hash does not change; the watcher accepts the
new print and one printed before `public_page` was set."""

from __future__ import annotations

import cv2
import pytest
from click.testing import CliRunner
from notice_helpers import NOTICE_ID, notice
from pydantic import ValidationError

from camaudit.notices.command import notice_cmd
from camaudit.notices.marker import marker_payload, notice_hash, parse_payload
from camaudit.notices.reader import MarkerReader
from camaudit.notices.sign import render_sign, save_sign
from camaudit.notices.watcher import NoticeWatcher

PAGE = "https://hub.example.org/public/cafe-01/entrance-sign"

CONFIG = """\
device: {{id: cafe-01, data_dir: {data}}}
feeds:
  counter: {{source: clip.mp4}}
  door: {{source: door.mp4}}
notices:
  entrance-sign:
    controller: "Example Cafe Ltd, 1 Main St"
    purposes: ["security of the premises"]
    rights: "access, erasure, objection"
    contact: "dpo@example.org"
    full_notice: "https://example.org/cctv"
    covers: [counter]
    public_page: "{page}"
    watch: {{feed: door}}
"""


def test_cli_qr_decodes_to_the_public_page(tmp_path):
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data", page=PAGE), encoding="utf-8")
    res = CliRunner().invoke(notice_cmd, ["print", "entrance-sign", "-o", str(tmp_path / "sign.png"),
                                          "--dpi", "100", "-c", str(cfg)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert f"QR leads to {PAGE}" in res.output
    img = cv2.imread(str(tmp_path / "sign.png"))
    texts = MarkerReader().read(img)
    assert len(texts) == 1
    url, _, frag = texts[0].partition("#")
    assert url == PAGE
    m = parse_payload(texts[0])
    assert m is not None and m.notice_id == "ENTRANCE-SIGN"


def test_public_page_does_not_change_the_hash_and_both_prints_are_seen(tmp_path):
    plain = notice(watch={"feed": "door"})
    paged = notice(watch={"feed": "door"}, public_page=PAGE)
    assert notice_hash(NOTICE_ID, plain) == notice_hash(NOTICE_ID, paged)
    watcher = NoticeWatcher(NOTICE_ID, paged)
    old = render_sign(NOTICE_ID, plain, 900)  # printed before public_page was configured
    new = render_sign(NOTICE_ID, paged, 900)
    assert MarkerReader().read(new) == [f"{PAGE}#{marker_payload(NOTICE_ID, paged)}"]
    assert watcher.look(new) == (True, False)
    assert watcher.look(old) == (True, False)
    # a QR sending phones to some other page with the right marker does not count
    other = notice(watch={"feed": "door"}, public_page="https://evil.example/x")
    assert watcher.look(render_sign(NOTICE_ID, other, 900)) == (False, True)
    save_sign(NOTICE_ID, paged, tmp_path / "s.pdf")


@pytest.mark.parametrize("bad", ["ftp://hub/x", "hub.example.org/public/a/b", "https://h/x#frag", "https://h/a b"])
def test_bad_public_page_is_refused(bad):
    with pytest.raises(ValidationError, match="public_page"):
        notice(public_page=bad)
