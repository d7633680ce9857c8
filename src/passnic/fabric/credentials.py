"""Switch credentials encrypted at rest with Fernet.

The key file holds one key per line, the newest first: values are encrypted with the first and
decrypted with any, so a rotation (`rotate`) can add a key, re-encrypt every row, then drop the
old key while other workers keep working. The file is created 0600 in the home unless the
operator names one (PASSNIC_FABRIC_KEY_FILE). It is read at each use, so a rotation needs no
restart. Stored values carry a prefix, so clear text left by an older version is recognised and
encrypted on start.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"


class CredentialError(Exception):
    """The stored credential cannot be decrypted with the key file's keys."""


class CredentialBox:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file

    def _keys(self) -> list[bytes]:
        try:
            text = self.key_file.read_text()
        except FileNotFoundError:
            self._create([Fernet.generate_key()])
            text = self.key_file.read_text()
        keys = [line.strip().encode() for line in text.splitlines() if line.strip()]
        if not keys:
            raise CredentialError(f"the key file {self.key_file} holds no key")
        return keys

    def _create(self, keys: list[bytes]) -> None:
        """Write a new key file 0600; a worker that loses the race reads the winner's."""
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "wb") as f:
            f.write(b"\n".join(keys) + b"\n")

    def _write(self, keys: list[bytes]) -> None:
        """Replace the key file atomically, 0600 from the start."""
        tmp = self.key_file.with_name(self.key_file.name + ".new")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(b"\n".join(keys) + b"\n")
        tmp.replace(self.key_file)

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self._keys()])

    def encrypt(self, clear: str) -> str:
        if not clear:
            return ""
        return PREFIX + self._fernet().encrypt(clear.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not is_encrypted(stored):
            return stored  # empty, or clear text not yet encrypted
        try:
            return self._fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise CredentialError(
                f"the stored credential does not decrypt with the keys in {self.key_file}"
            ) from None

    def begin_rotation(self) -> None:
        """Put a new key first; values still decrypt with the old one."""
        self._write([Fernet.generate_key(), *self._keys()])

    def reencrypt(self, stored: str) -> str:
        """The value encrypted with the newest key (clear text is encrypted)."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        token = self._fernet().rotate(stored[len(PREFIX) :].encode())
        return PREFIX + token.decode()

    def end_rotation(self) -> None:
        """Drop every key but the newest (once no value needs them)."""
        self._write(self._keys()[:1])


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)
