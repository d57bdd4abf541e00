"""report.pdf carries a PDF signature under the pack's key: pdfsig (poppler) finds it
valid and a changed byte invalid; `camaudit verify` ties it to the pinned key."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from trust_helpers import verify

from camaudit.core.record import Event
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey, load_key
from camaudit.store.pack import export_pack
from camaudit.store.pack_report import PackMeta, derived_files
from camaudit.trust.pdf_sign import sign_pdf, signing_identity

pdfsig = shutil.which("pdfsig")
needs_pdfsig = pytest.mark.skipif(pdfsig is None, reason="pdfsig (poppler-utils) not installed")


@pytest.fixture()
def pack(tmp_path: Path) -> tuple[Path, DeviceKey]:
    now = int(time.time() * 1000)
    db = tmp_path / "dev" / "journal.db"
    with Journal.open(db, "cafe-01", checkpoint_every=1000) as j:
        j.append("device.online", None, {}, now - 2000)
        j.append("device.online", None, {}, now - 1000)
    out = tmp_path / "pack.zip"
    export_pack(db, out, now_ms=now)
    return out, load_key(db.parent / "device.key")


def _files(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as z:
        return {n: z.read(n) for n in z.namelist()}


def _pdfsig(pdf: bytes, tmp_path: Path) -> str:
    p = tmp_path / "r.pdf"
    p.write_bytes(pdf)
    assert pdfsig is not None
    return subprocess.run([pdfsig, str(p)], capture_output=True, text=True, timeout=60).stdout


def _resign(src: Path, dst: Path, key: DeviceKey, change: dict[str, bytes]) -> Path:
    """What the holder of the pack key can do: new content, manifest re-hashed and re-signed."""
    files = {n: d for n, d in _files(src).items() if not n.startswith("manifest.")}
    files.update(change)
    manifest = json.loads(_files(src)["manifest.json"])
    manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"}.items():
            z.writestr(n, d)
    return dst


@needs_pdfsig
def test_pdfsig_finds_the_signature_valid_and_a_changed_byte_invalid(pack, tmp_path) -> None:
    path, key = pack
    pdf = _files(path)["report.pdf"]
    out = _pdfsig(pdf, tmp_path)
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Total document signed" in out and "camaudit device cafe-01 report signing" in out
    # one changed byte of the report's own text (inside the signed range)
    i = pdf.index(b"/Title")
    changed = pdf[:i] + b"/Titlf" + pdf[i + 6 :]
    out = _pdfsig(changed, tmp_path)
    assert "Signature is Valid" not in out and "Digest Mismatch" in out, out


@needs_pdfsig
def test_pdfsig_does_not_check_an_ed25519_pdf_signature(tmp_path) -> None:
    """Why trust.pdf_sign signs with a P-256 key the Ed25519 key certifies: a pyHanko
    Ed25519 signature is not shown valid by this machine's pdfsig (poppler + NSS)."""
    import datetime

    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore
    from reportlab.pdfgen import canvas

    k = DeviceKey.generate().private_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed25519 direct")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.public_key()).serial_number(7)  # type: ignore[attr-defined]
            .not_valid_before(datetime.datetime(2000, 1, 1))
            .not_valid_after(datetime.datetime(9999, 1, 1)).sign(k, None))  # type: ignore[arg-type]
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(100, 700, "hello")
    c.save()
    acert = ax.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    akey = akeys.PrivateKeyInfo.load(k.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=acert, signing_key=akey,
                                  cert_registry=SimpleCertificateStore.from_certs([acert]))
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(buf.getvalue())),
                           signers.PdfSignatureMetadata(field_name="S"), signer=signer)
    assert "Signature is Valid" not in _pdfsig(out.getvalue(), tmp_path)


def test_verify_checks_the_pdf_signature_and_the_report_names_its_certificate(pack, capsys) -> None:
    path, key = pack
    fp = signing_identity(key.private_key, "device", "cafe-01").fingerprint
    code, out = verify(capsys, str(path), "--pubkey", key.public_hex)
    assert code == 0, out
    assert f"report.pdf's PDF signature is valid (certificate SHA-256 {fp}" in out
    assert fp in _files(path)["report.md"].decode()
    # the same key always gives the same certificate, so the fingerprint is the device's
    assert signing_identity(key.private_key, "device", "cafe-01").signer_der == \
        signing_identity(key.private_key, "device", "cafe-01").signer_der


def test_changed_byte_in_the_signed_pdf_fails_verify_even_resigned(pack, tmp_path, capsys) -> None:
    path, key = pack
    pdf = _files(path)["report.pdf"]
    i = pdf.index(b"/Title")
    forged = _resign(path, tmp_path / "f.zip", key, {"report.pdf": pdf[:i] + b"/Titlf" + pdf[i + 6 :]})
    code, out = verify(capsys, str(forged), "--pubkey", key.public_hex)
    assert code == 1 and "report.pdf" in out, out


def test_pdf_signed_by_another_key_fails(pack, tmp_path, capsys) -> None:
    path, key = pack
    pdf = _files(path)["report.pdf"]
    first = pdf[: pdf.rindex(b"%%EOF", 0, pdf.rindex(b"%%EOF")) + 6]  # the unsigned revision
    other = sign_pdf(first, signing_identity(DeviceKey.generate().private_key, "device", "cafe-01"), reason="x")
    forged = _resign(path, tmp_path / "f.zip", key, {"report.pdf": other})
    code, out = verify(capsys, str(forged), "--pubkey", key.public_hex)
    assert code == 1 and "not the pack's signer" in out, out


def test_signed_pdf_of_other_content_fails(pack, tmp_path, capsys) -> None:
    """The key holder signs a report.pdf that is not the one the records give."""
    path, key = pack
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(100, 700, "no capture happened")
    c.save()
    other = sign_pdf(buf.getvalue(), signing_identity(key.private_key, "device", "cafe-01"), reason="x")
    forged = _resign(path, tmp_path / "f.zip", key, {"report.pdf": other})
    code, out = verify(capsys, str(forged), "--pubkey", key.public_hex)
    assert code == 1 and "differs from the one derived from the records" in out, out


def test_pack_made_before_reports_were_signed_still_verifies(pack, tmp_path, capsys) -> None:
    path, key = pack
    files = _files(path)
    events = [Event.from_json(x) for x in files["events.jsonl"].decode().splitlines()]
    manifest = json.loads(files["manifest.json"])
    meta = PackMeta(device="cafe-01", public_key=key.public_hex, created_ms=manifest["created"],
                    signed_by="device", since_ms=None, until_ms=None, feed=None, frames=frozenset())
    old = derived_files(events, meta, {})  # no pdf_cert: as camaudit wrote them before
    legacy = _resign(path, tmp_path / "old.zip", key, old)
    code, out = verify(capsys, str(legacy), "--pubkey", key.public_hex)
    assert code == 0 and "report.pdf carries no PDF signature" in out, out


def test_signing_revision_that_adds_page_content_fails(pack, tmp_path, capsys) -> None:
    """The key holder keeps the derived report as the first revision but adds visible
    text in the signing revision: the signature is valid, verify still refuses it."""
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    path, key = pack
    pdf = _files(path)["report.pdf"]
    first = pdf[: pdf.rindex(b"%%EOF", 0, pdf.rindex(b"%%EOF")) + 6]
    ident = signing_identity(key.private_key, "device", "cafe-01")
    w = IncrementalPdfFileWriter(io.BytesIO(first))
    from pyhanko.pdf_utils import generic

    box = w.add_object(generic.StreamObject(stream_data=b"0 0 0 rg 10 10 200 200 re f"))
    w.add_stream_to_page(0, box)
    leaf, root = ax.Certificate.load(ident.signer_der), ax.Certificate.load(ident.issuer_der)
    pk = akeys.PrivateKeyInfo.load(ident.signer_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=leaf, signing_key=pk,
                                  cert_registry=SimpleCertificateStore.from_certs([leaf, root]))
    out = signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="camaudit-signature"), signer=signer)
    forged = _resign(path, tmp_path / "f.zip", key, {"report.pdf": out.getvalue()})
    code, msg = verify(capsys, str(forged), "--pubkey", key.public_hex)
    assert code == 1 and "the signing revision" in msg, msg


@pytest.mark.parametrize("junk", [b"not a pdf", b"%PDF-1.7\n1 0 obj <</Type /Sig /Contents <00" * 200])
def test_hostile_report_pdf_fails_with_one_line(pack, tmp_path, capsys, junk) -> None:
    path, key = pack
    forged = _resign(path, tmp_path / "f.zip", key, {"report.pdf": junk})
    start = time.monotonic()
    code, out = verify(capsys, str(forged), "--pubkey", key.public_hex)
    assert code == 1 and "report.pdf" in out and out.strip().count("\n") == 0, out
    assert time.monotonic() - start < 30
