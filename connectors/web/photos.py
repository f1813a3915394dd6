"""Checking a customer's photo before it is kept: size and type from the bytes, decoded, re-encoded without metadata.

Pure (no I/O); called by the web channel's ``POST /api/web/attachments``. Pillow decodes the image (a file
name or a Content-Type proves nothing), refuses anything but JPEG, PNG and WebP, refuses images too large to
decode safely, turns it upright by its EXIF orientation, shrinks it to at most ``max_side`` pixels and encodes a
fresh copy: the copy carries no EXIF (so no GPS position, camera serial or time), no ICC or XMP and no trailing
bytes, whatever the customer's file held.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: Pillow format name -> the type the photo is kept and served as.
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression bombs: a 40-megapixel limit before decoding
MAX_SIDE = 2048


class PhotoRejected(ValueError):
    """The upload is not a photo we keep; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        """Keep the machine code, the sentence and the HTTP status."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    """A photo ready to keep: fresh bytes without metadata, their type and size in pixels."""

    data: bytes
    content_type: str
    width: int
    height: int


def check_photo(
    raw: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE
) -> CheckedPhoto:
    """Decode ``raw`` and return a clean copy of it.

    Args:
        raw: the uploaded bytes.
        max_bytes: largest upload accepted.
        max_pixels: largest image (width x height) decoded.
        max_side: longest side of the copy kept (larger photos are scaled down).

    Returns:
        The re-encoded photo (JPEG stays JPEG, PNG stays PNG, WebP stays WebP).

    Raises:
        PhotoRejected: empty, too large (413), not an image, or not JPEG/PNG/WebP (415), or broken.
    """
    if not raw:
        raise PhotoRejected("empty_photo", "the photo is empty: choose a JPEG, PNG or WebP picture")
    if len(raw) > max_bytes:
        raise PhotoRejected(
            "photo_too_large", f"the photo is larger than {max_bytes // (1024 * 1024)} MB: send a smaller one", 413
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the three decoders we keep are tried: a GIF, TIFF or anything else is "not a photo" here,
            # and no other decoder ever parses a customer's bytes.
            with Image.open(io.BytesIO(raw), formats=list(FORMATS)) as probe:
                kind = probe.format
                if kind not in FORMATS:
                    raise PhotoRejected(
                        "unsupported_photo_type", "only JPEG, PNG and WebP photos can be sent", status=415
                    )
                if probe.width * probe.height > max_pixels:
                    raise PhotoRejected(
                        "photo_too_large", "the photo has too many pixels: send a smaller one", status=413
                    )
                probe.load()
                image = ImageOps.exif_transpose(probe)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("photo_too_large", "the photo has too many pixels: send a smaller one", 413) from None
    except UnidentifiedImageError:
        raise PhotoRejected(
            "not_a_photo", "that file is not a JPEG, PNG or WebP picture: choose one of those", 415
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise PhotoRejected("broken_photo", "the photo could not be read (the file may be damaged)") from None
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif kind == "PNG":
        keep = image if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA") else image.convert("RGBA")
        keep.save(out, "PNG", optimize=True)
    else:
        keep = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
        keep.save(out, "WEBP", quality=85)
    return CheckedPhoto(out.getvalue(), FORMATS[kind], image.width, image.height)
