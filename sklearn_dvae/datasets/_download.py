"""Downloads of the official data files: checked, resumable, never half-written under their name.

A file is written to ``<name>.part`` beside its final place and renamed once it is
complete and its SHA-256 digest matches, so the final name only ever holds a whole,
verified file. An interrupted transfer leaves the ``.part`` file, and the next attempt
asks the server for the rest (an HTTP Range request); a server that ignores the request
or a partial file that turns out wrong makes the download start again from zero.
"""

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BASE_URL_ENVIRONMENT_VARIABLE",
    "FETCHER_PARAMETERS",
    "DownloadError",
    "OfficialFile",
    "fetch_file",
]

BASE_URL_ENVIRONMENT_VARIABLE = "SKLEARN_DVAE_BASE_URL"
# validate_params' constraints of the arguments every fetcher takes.
FETCHER_PARAMETERS = {
    "data_home": [str, os.PathLike, None],
    "download_if_missing": ["boolean"],
    "base_url": [str, None],
    "sha256": [str, None],
    "progress": ["boolean"],
}

_CHUNK_BYTES = 1 << 20
_TIMEOUT_SECONDS = 60
# Consecutive attempts of one call: an attempt that brings no new byte ends the call.
_MAX_ATTEMPTS = 5
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(OSError):
    """A download failed; the message says which URL, why, and where to put the file by hand."""


@dataclass(frozen=True)
class OfficialFile:
    """A file of an official dataset: its name, where it is published, its checksum.

    ``sha256`` is None where no published checksum could be verified; ``size`` (bytes)
    is documentation only.
    """

    name: str
    url: str
    sha256: str | None = None
    size: int | None = None


def _source_url(official, base_url):
    if not base_url:
        base_url = os.environ.get(BASE_URL_ENVIRONMENT_VARIABLE) or None
    if base_url is None:
        return official.url
    return f"{str(base_url).rstrip('/')}/{official.name}"


def _expected_digest(official, sha256):
    """The digest to check: ``sha256`` (a str, or a dict by file name), else the official one."""
    if sha256 is None:
        return official.sha256
    if isinstance(sha256, str):
        digest = sha256
    elif hasattr(sha256, "get"):
        digest = sha256.get(official.name, official.sha256)
    else:
        raise TypeError(
            f"sha256 must be None, a hexadecimal digest or a dict of them by file name, got "
            f"{sha256!r}"
        )
    if digest is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {digest!r}")
    return None if digest is None else digest.lower()


def fetch_file(official, folder, *, base_url, sha256, download_if_missing, progress, function):
    """Return the path of ``official`` in ``folder``, downloading it first if it is missing."""
    folder = Path(folder)
    destination = folder / official.name
    if destination.is_file():
        return destination
    url = _source_url(official, base_url)
    if not download_if_missing:
        raise FileNotFoundError(
            f"{official.name} is not in {str(folder)!r} and download_if_missing=False. "
            f"Download {url} and put it at {str(destination)!r}, or call {function}() "
            "with download_if_missing=True."
        )
    expected = _expected_digest(official, sha256)
    folder.mkdir(parents=True, exist_ok=True)
    digest = download(url, destination, sha256=expected, progress=progress)
    if expected is None:
        warnings.warn(
            f"{official.name} has no published SHA-256 checksum, so the download from {url} "
            f"was not verified; its SHA-256 is {digest}. Pass sha256={digest!r} to "
            f"{function}() to check a later download against it.",
            stacklevel=4,  # the caller of the fetcher (under validate_params' wrapper)
        )
    return destination


def _by_hand(url, destination):
    return (
        f"Without network access, download {url} on another machine and put it at "
        f"{str(destination)!r}; it is then used without downloading."
    )


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class _Interrupted(Exception):
    """The body ended before its announced length (or the connection failed mid-body).

    ``appended`` says whether the bytes were appended to a partial file (a resumed
    transfer) rather than written from zero.
    """

    def __init__(self, reason, appended):
        super().__init__(reason)
        self.appended = appended


class _Restart(Exception):
    """The partial file was discarded: the download starts again from zero."""


def download(url, destination, *, sha256=None, progress=True):
    """Download ``url`` to ``destination`` through ``<destination>.part``; return its SHA-256.

    Raises DownloadError (an OSError) when the server cannot be reached, answers with an
    error, the transfer keeps failing, or the digest differs from ``sha256``.
    """
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".part")
    resumed = False  # whether the bytes on disk come from more than one response
    restarted = False
    attempt = 0
    while True:
        attempt += 1
        before = partial.stat().st_size if partial.is_file() else 0
        try:
            resumed |= _transfer(url, partial, before, progress, destination)
        except _Restart as reason:
            if restarted:
                raise DownloadError(
                    f"the download of {url} failed twice from the start ({reason}). "
                    f"{_by_hand(url, destination)}"
                ) from None
            restarted, resumed, attempt = True, False, 0
            continue
        except _Interrupted as interruption:
            resumed |= interruption.appended
            after = partial.stat().st_size if partial.is_file() else 0
            if after > before and attempt < _MAX_ATTEMPTS:
                continue  # progress was made: ask for the rest
            raise DownloadError(
                f"the download of {url} was interrupted ({interruption}) after {after} bytes. "
                f"The partial file {str(partial)!r} is kept: calling again resumes from "
                f"there. {_by_hand(url, destination)}"
            ) from None
        digest = _file_digest(partial)
        if sha256 is not None and digest != sha256:
            partial.unlink()
            if resumed and not restarted:
                # The kept bytes may come from an older or damaged transfer: start afresh.
                restarted, resumed, attempt = True, False, 0
                continue
            raise DownloadError(
                f"the file downloaded from {url} has SHA-256 {digest}, not the expected "
                f"{sha256}: it is damaged, or not the official file. It was deleted; "
                "nothing was written under its name. Try again later, or check the URL "
                f"(base_url, ${BASE_URL_ENVIRONMENT_VARIABLE})."
            )
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, destination)
        return digest


def _open(url, offset):
    headers = {"User-Agent": "sklearn-dvae"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(
        urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_SECONDS
    )


def _transfer(url, partial, offset, progress, destination):
    """One request: append the rest of the file to ``partial`` (or rewrite it from zero).

    Returns whether the bytes were appended to what ``partial`` held.
    """
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # The partial file is not a prefix the server recognises: start afresh.
            partial.unlink()
            raise _Restart("the server refused to resume") from None
        raise DownloadError(
            f"the server answered HTTP {error.code} ({error.reason}) for {url}. "
            f"{_by_hand(url, destination)}"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"could not download {url}: {reason}. {_by_hand(url, destination)}"
        ) from None
    with response:
        start, total = 0, None
        if response.status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match and int(match.group(1)) == offset:
                start = offset
                total = None if match.group(3) == "*" else int(match.group(3))
            else:
                partial.unlink(missing_ok=True)
                raise _Restart("the server resumed at another offset")
        else:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        received = start
        bar = _progress_bar(partial.name.removesuffix(".part"), total, start, progress)
        try:
            with open(partial, "ab" if start else "wb") as handle:
                while True:
                    try:
                        block = response.read(_CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as error:
                        reason = f"{type(error).__name__}: {error}"
                        raise _Interrupted(reason, appended=start > 0) from None
                    if not block:
                        break
                    handle.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
    if total is not None and received > total:
        partial.unlink()
        raise _Restart(f"{received} bytes received where {total} were announced")
    if total is not None and received < total:
        raise _Interrupted(f"{received} of {total} bytes received", appended=start > 0)
    return start > 0


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(name, total, initial, progress):
    if not progress:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm comes with skorch; without it, no bar
        return _NoBar()
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        leave=False,
    )
