"""Product pictures from an upload.

A file counts as a picture only when Pillow decodes it as JPEG, PNG or WebP (its name and
the browser's content type are never believed). It is measured from its header before
any pixel is decoded, so a decompression bomb is refused cheaply; then it is re-encoded
the right way up and without its metadata (EXIF: camera, place, time) as WebP renditions
of a few widths, never wider than the original. The files are named after the upload's
content (`products/<hash>-<width>.webp`), so a URL never changes meaning and browsers may
keep them for good.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from PIL import Image, ImageOps

from shop.i18n import _

WIDTHS = (320, 640, 1280)
FORMATS = ("JPEG", "PNG", "WEBP")
WEBP_QUALITY = 82
FOLDER = "products"
# A rendition's media path; the hash is of the uploaded file (and this encoding).
RENDITION = re.compile(r"products/[0-9a-f]{24}-[0-9]{1,5}\.webp")
_ENCODING = b"webp-q82-v1"
_CHUNK = 1 << 16

# Pillow only warns about a picture over its pixel limit (up to twice the limit, then
# it refuses): here that warning refuses too.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class ImageRefused(ValueError):
    """The upload is not a picture the shop takes; the message (German for the shop)
    says why. Nothing was stored."""


@dataclass(frozen=True)
class StoredImage:
    filename: str  # the widest rendition: a plain `src` where no `srcset` is used
    widths: str  # every rendition's width, narrowest first: "320 640 1280"

    @property
    def files(self) -> list[str]:
        return renditions(self.filename, self.widths)


def renditions(filename: str, widths: str) -> list[str]:
    """The media paths of an image's files: one per width, or the one file it is."""
    if not widths:
        return [filename]
    stem = filename.rsplit("-", 1)[0]
    return [f"{stem}-{width}.webp" for width in widths.split()]


def is_rendition(path: str) -> bool:
    """A content-named rendition (its URL never changes meaning)."""
    return RENDITION.search(path.replace(os.sep, "/")) is not None


def store(source: BinaryIO, media_dir: Path, max_pixels: int) -> StoredImage:
    """Decode `source`, and write its renditions into `media_dir/products/`. Raises
    ImageRefused (leaving nothing behind) when it is not a usable JPEG, PNG or WebP."""
    digest = _digest(source)
    image = _decode(source, max_pixels)
    try:
        widths = rendition_widths(image.width)
        stem = f"{FOLDER}/{digest}"
        folder = media_dir / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for width in widths:
                target = media_dir / f"{stem}-{width}.webp"
                if target.exists():  # the same upload before: the same bytes
                    continue
                _write(_resized(image, width), target)
                written.append(target)
        except Exception:
            for path in written:
                path.unlink(missing_ok=True)
            raise
    finally:
        image.close()
    return StoredImage(f"{stem}-{widths[-1]}.webp", " ".join(map(str, widths)))


def remove(media_dir: Path, filenames: Iterable[str]) -> None:
    """Delete these media files (those that exist, inside `media_dir`)."""
    root = media_dir.resolve()
    for name in filenames:
        path = (media_dir / name).resolve()
        if root in path.parents:
            path.unlink(missing_ok=True)


def rendition_widths(width: int) -> list[int]:
    """The widths to make of a picture `width` pixels wide: the standard widths below it,
    and the picture's own width (at most the largest standard one), never more."""
    widest = min(width, WIDTHS[-1])
    return [*(w for w in WIDTHS if w < widest), widest]


def _digest(source: BinaryIO) -> str:
    source.seek(0)
    sha = hashlib.sha256(_ENCODING)
    while chunk := source.read(_CHUNK):
        sha.update(chunk)
    source.seek(0)
    return sha.hexdigest()[:24]


def _decode(source: BinaryIO, max_pixels: int) -> Image.Image:
    """The decoded picture, upright and clean; refused if it is none of ours, damaged
    or too large."""
    # Pillow's own guard as a second line: with this, it refuses at twice the limit.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(source, formats=FORMATS) as probe:
            _check_size(probe, max_pixels)
            probe.verify()  # structure and checksums, without decoding the pixels
        source.seek(0)
        image = Image.open(source, formats=FORMATS)
        _check_size(image, max_pixels)
        if image.format == "JPEG":
            # Decode at a reduced scale where the largest rendition allows it (fast, small).
            image.draft(None, (WIDTHS[-1], WIDTHS[-1]))
        image.load()
        with image:
            return _upright(image)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_too_many_pixels(max_pixels)) from None
    except Image.UnidentifiedImageError:
        raise ImageRefused(_("This file is not a JPEG, PNG or WebP picture.")) from None
    except Exception:  # a damaged file fails in many ways inside the decoders
        raise ImageRefused(_("This picture is damaged or incomplete and cannot be read.")) from None


def _check_size(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused(_("This picture is damaged or incomplete and cannot be read."))
    if width * height > max_pixels:
        raise ImageRefused(_too_many_pixels(max_pixels))


def _too_many_pixels(max_pixels: int) -> str:
    megapixels = f"{max_pixels / 1_000_000:g}".replace(".", ",")
    return _("This picture has too many pixels: at most %(megapixels)s megapixels, please.", megapixels=megapixels)


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's orientation tag says, in RGB (RGBA where it has
    transparency), with no metadata left but the colour profile."""
    turned = ImageOps.exif_transpose(image) or image
    transparent = turned.mode in ("RGBA", "LA", "PA") or (
        turned.mode == "P" and "transparency" in turned.info)
    if turned.mode.startswith("I"):  # 16 bits a channel: down to 8
        turned = turned.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    clean = turned.convert("RGBA" if transparent else "RGB")
    profile = image.info.get("icc_profile")
    clean.info = {"icc_profile": profile} if isinstance(profile, bytes) else {}
    if turned is not image:
        turned.close()
    return clean


def _resized(image: Image.Image, width: int) -> Image.Image:
    if width >= image.width:
        return image
    height = max(1, round(image.height * width / image.width))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    resized.info = dict(image.info)
    return resized


def _write(image: Image.Image, target: Path) -> None:
    """Written beside the target, then renamed: a reader never sees half a file."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        options = {"icc_profile": image.info["icc_profile"]} if "icc_profile" in image.info else {}
        image.save(temporary, "WEBP", quality=WEBP_QUALITY, method=4, exif=b"", **options)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
