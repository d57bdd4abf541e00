"""The PDF signature of report.pdf (and letters): made with pyHanko, checkable by pdfsig,
Acrobat and `camaudit verify`.

Which key signs: the key that signs the pack (the device's or the hub's Ed25519 key)
certifies a P-256 report-signing key derived from it, and that key signs the PDF. Why
not Ed25519 directly: common readers do not check Ed25519 PDF signatures yet (pdfsig of
poppler 22.12 with NSS 3.87 answers "Document isn't signed or corrupted data" for one
pyHanko makes; measured in tests/trust/test_signed_report.py), while ECDSA P-256 is
checked by every reader. Both certificates are a deterministic function of the Ed25519
key (the derived key is HKDF-SHA256 of the Ed25519 private key; Ed25519 signatures are
deterministic), so one device's report certificate, and its SHA-256 fingerprint, never
change:
- the issuer: a self-signed certificate of the Ed25519 key itself, "CN=camaudit <role>
  <name>", carried in the PDF signature;
- the signer: "CN=camaudit <role> <name> report signing", P-256, issued by the above.

`camaudit verify` re-derives the unsigned report.pdf from the records and requires it to
be, byte for byte, the first revision of the signed file; the signature to cover the whole
file and the revision after it to add only the signature (pyHanko's difference analysis);
and the issuer certificate to carry the pinned (pack-signing) key.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from camaudit.errors import VerifyError

# pyHanko imports cryptography's DSA names, which cryptography marks deprecated; the warning
# landed on the terminal of every `verify` and `export`. We sign and check no DSA.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"pyhanko\.")

FIELD = "camaudit-signature"
_NOT_BEFORE = datetime(2000, 1, 1)
_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59)
_HKDF_INFO = b"camaudit report.pdf signing key (P-256) v1"


@dataclass(frozen=True)
class SigningIdentity:
    issuer_der: bytes  # self-signed, the Ed25519 key
    signer_der: bytes  # P-256, issued by the Ed25519 key
    signer_key: Any  # cryptography EllipticCurvePrivateKey

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.signer_der)


def cert_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, as readers show it (AB:CD:...)."""
    d = hashlib.sha256(der).hexdigest().upper()
    return ":".join(d[i : i + 2] for i in range(0, 64, 2))


def signing_identity(ed25519_key: Any, role: str, name: str) -> SigningIdentity:
    """The report-signing certificates of an Ed25519 private key (cryptography's
    Ed25519PrivateKey); `role` "device" or "hub", `name` its id."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    raw_priv = ed25519_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pub = ed25519_key.public_key()
    raw_pub = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=raw_pub, info=_HKDF_INFO).derive(raw_priv)
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 order
    signer_key = ec.derive_private_key(int.from_bytes(okm, "big") % (n - 1) + 1, ec.SECP256R1())
    serial = int.from_bytes(hashlib.sha256(raw_pub).digest()[:16], "big") >> 1
    label = f"camaudit {role} {name}"[:60]
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label} report signing"[:64])])
    root = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(pub)
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True)
        .sign(ed25519_key, None)
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(signer_key.public_key())
        .serial_number(serial + 1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(ed25519_key, None)
    )
    der = serialization.Encoding.DER
    return SigningIdentity(root.public_bytes(der), leaf.public_bytes(der), signer_key)


def sign_pdf(pdf: bytes, identity: SigningIdentity, *, reason: str) -> bytes:
    """`pdf` with one PDF signature (an incremental update after its bytes, which stay
    unchanged as the first revision); the signing time is the clock's (not compared)."""
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer_cert = ax.Certificate.load(identity.signer_der)
    issuer_cert = ax.Certificate.load(identity.issuer_der)
    key = akeys.PrivateKeyInfo.load(
        identity.signer_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=signer_cert,
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([signer_cert, issuer_cert]),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", reason=reason)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = signers.PdfSigner(meta, signer).sign_pdf(writer)
    return bytes(out.getvalue())


@dataclass(frozen=True)
class PdfSignature:
    fingerprint: str  # SHA-256 of the signing certificate
    issuer_key: bytes  # raw Ed25519 public key of the certificate that issued it


def signer_of(pdf: bytes) -> PdfSignature | None:
    """The camaudit signature's certificates in `pdf`, unchecked; None if it has none.
    VerifyError if the PDF cannot be read or its signature is not camaudit's shape."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    sigs = _embedded(pdf)
    if not sigs:
        return None
    if len(sigs) != 1:
        raise VerifyError(f"report PDF holds {len(sigs)} signatures, camaudit makes one")
    sig = sigs[0]
    try:  # hostile input: every parse error is a failed check, named
        leaf_der = sig.signer_cert.dump()
        leaf = x509.load_der_x509_certificate(leaf_der)
        issuers = [x509.load_der_x509_certificate(c.dump()) for c in sig.other_embedded_certs]
    except Exception as exc:
        raise VerifyError(f"report PDF: unreadable signature certificates ({type(exc).__name__}: {exc})") from None
    for issuer in issuers:
        pub = issuer.public_key()
        if issuer.subject != leaf.issuer or not isinstance(pub, Ed25519PublicKey):
            continue
        try:
            leaf.verify_directly_issued_by(issuer)
        except Exception as exc:  # InvalidSignature, ValueError, TypeError
            raise VerifyError(f"report PDF: its signing certificate is not issued by the key it names ({exc})") from None
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PdfSignature(cert_fingerprint(leaf_der), raw)
    raise VerifyError("report PDF: the signature carries no Ed25519 issuer certificate")


def _embedded(pdf: bytes) -> list[Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
    except Exception as exc:  # pyHanko raises several error types on damaged files
        raise VerifyError(f"report PDF: unreadable ({type(exc).__name__}: {exc})") from None


def check_pdf(signed: bytes, unsigned: bytes | None, key: bytes) -> PdfSignature:
    """Check the signature of `signed` offline: issued by Ed25519 `key`, intact, over the
    whole file, adding nothing but the signature to `unsigned` (the re-derived report;
    None: not re-derived, the signature is still checked). VerifyError naming the problem."""
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    who = signer_of(signed)
    if who is None:
        raise VerifyError("report PDF carries no signature")
    if who.issuer_key != key:
        raise VerifyError(
            f"report PDF is signed under key {who.issuer_key.hex()[:16]}..., not the pack's signer {key.hex()[:16]}..."
        )
    if unsigned is not None and not signed.startswith(unsigned):
        raise VerifyError("report PDF differs from the one derived from the records (before its signature)")
    sig = _embedded(signed)[0]
    try:
        from pyhanko_certvalidator import ValidationContext

        roots = [c for c in sig.other_embedded_certs if c.subject == sig.signer_cert.issuer]
        ctx = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        status = validate_pdf_signature(sig, signer_validation_context=ctx, skip_diff=True)
    except Exception as exc:
        raise VerifyError(f"report PDF: signature cannot be checked ({type(exc).__name__}: {exc})") from None
    if not (status.intact and status.valid):
        raise VerifyError("report PDF: the signature does not match the document (changed after signing)")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise VerifyError("report PDF: bytes after the signature are not covered by it")
    if unsigned is not None:
        _only_the_signature(signed)
    return who


# what the signing revision may change in an object the unsigned report already had
_MAY_ADD = {"/Catalog": {"/AcroForm", "/Version", "/Extensions", "/Metadata"}, "/Page": {"/Annots"}}
_INFO_MAY_CHANGE = {"/ModDate", "/Producer"}


def _only_the_signature(signed: bytes) -> None:
    """The revision after the derived report adds the signature and nothing a reader
    shows: no page content, resource or visible annotation changes (pyHanko's own
    difference analysis expects a form in the first revision, which reportlab does not
    write, so the rule is stated here over pyHanko's reader)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    if reader.xrefs.total_revisions != 2:
        raise VerifyError(f"report PDF has {reader.xrefs.total_revisions} revisions, a signed report 2")
    old = reader.get_historical_resolver(0)
    info_ref = old.trailer_view.get_value_as_reference("/Info") if "/Info" in old.trailer_view else None
    changed = list(reader.xrefs.explicit_refs_in_revision(1))
    widgets = set()
    for ref in changed:
        new = reader.get_object(ref)  # type: ignore[no-untyped-call]
        if not isinstance(new, generic.DictionaryObject):
            raise VerifyError(f"report PDF: the signing revision adds object {ref.idnum}, not a dictionary")
        if new.get("/FT") == "/Sig" and "/AP" not in new:
            widgets.add(ref)
    for ref in changed:
        new = reader.get_object(ref)  # type: ignore[no-untyped-call]
        before = old.get_object(ref) if reader.xrefs.get_introducing_revision(ref) == 0 else None
        if not isinstance(before, generic.DictionaryObject):
            kind = new.get("/Type"), new.get("/FT")
            if kind[0] == "/Sig" or kind == ("/Metadata", None) or "/SigFlags" in new:
                continue
            if ref in widgets:
                continue
            raise VerifyError(f"report PDF: the signing revision adds object {ref.idnum} ({kind[0] or kind[1]})")
        if info_ref is not None and ref == info_ref:
            may_change, may_add = _INFO_MAY_CHANGE, _INFO_MAY_CHANGE
        else:
            may_change, may_add = set(), _MAY_ADD.get(str(before.get("/Type")), set())
        for k in set(before) | set(new):
            if k in before and k not in may_change and (k not in new or new[k] != before[k]):
                raise VerifyError(f"report PDF: the signing revision changes {k} of object {ref.idnum}")
            if k not in before and k not in may_add:
                raise VerifyError(f"report PDF: the signing revision adds {k} to object {ref.idnum}")
        if "/Annots" in new and "/Annots" not in before:
            annots = new["/Annots"]
            if not all(isinstance(a, generic.IndirectObject) and a.reference in widgets for a in annots):
                raise VerifyError(f"report PDF: the signing revision adds annotations to page {ref.idnum}")

