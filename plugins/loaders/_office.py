"""Checks shared by the Office Open XML loaders (DOCX, XLSX) before their library opens a file,
so that the usual wrong inputs fail with a message saying what is wrong, not a zip error."""

import io
import zipfile

#: The first bytes of an OLE2 compound file (CFB): legacy .doc/.xls files, and the container
#: Office wraps a password-protected .docx/.xlsx in.
CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
#: The stream an encrypted OOXML package keeps its ciphertext in, as CFB directory entries
#: spell names (UTF-16-LE).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def check_ooxml(data: bytes, filename: str, *, kind: str, legacy: str, application: str) -> None:
    """Raise ``ValueError`` unless ``data`` looks like an OOXML (zip) package.

    ``kind`` is the expected format (".docx"), ``legacy`` its pre-2007 counterpart (".doc")
    and ``application`` the program to fix the file with ("Word").
    """
    if data.startswith(CFB_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise ValueError(
                f"{filename} is encrypted / password protected; remove the password in "
                f"{application} and upload it again"
            )
        raise ValueError(
            f"{filename} is an OLE2 file, not a {kind} package: it is either encrypted / "
            f"password protected or a legacy {legacy} file; remove the password, or save it "
            f"as {kind} in {application}, and upload it again"
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(
            f"{filename} is not a {kind} file (it is not a zip package): it may be truncated, "
            "corrupt or another format"
        )
