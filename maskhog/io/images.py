"""Reading images safely.

Every image that enters maskhog from a file comes through :func:`read_image`:
the header is checked before any pixel is decoded (a 20-byte file can claim
billions of pixels), truncated and corrupt files are refused rather than
half-read, and every pixel format ends up as 8-bit BGR, the order OpenCV's
video capture gives. A bad file raises :class:`ImageError` with the file's
name in the message, so a batch can report it and go on.

Pillow does the decoding (it reads headers lazily, notices truncation and
applies EXIF orientation); scikit-image already depends on it.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["ImageError", "ImageBytes", "DEFAULT_MAX_PIXELS", "MAX_FILE_BYTES", "IMAGE_SUFFIXES",
           "VIDEO_SUFFIXES", "read_image", "read_bytes", "to_bgr", "to_gray", "scaled"]

#: Largest image accepted by default: 50 megapixels (an 8K frame is 33).
DEFAULT_MAX_PIXELS = 50_000_000

#: Largest image file read into memory to be sent elsewhere (:func:`read_bytes`): 256 MB,
#: beyond any photo of DEFAULT_MAX_PIXELS in a compressed format.
MAX_FILE_BYTES = 256 << 20

#: File suffixes taken as images when a folder is scanned.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
#: File suffixes read as videos.
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


class ImageError(ValueError):
    """A file that is not a usable image. The message starts with its path."""


class ImageBytes(NamedTuple):
    """An image file's contents under its name: read where the file is, decoded where the
    work is (a cluster's worker that cannot see the file). :func:`read_image` takes it."""

    name: str
    data: bytes


def read_bytes(path, *, max_bytes: int = MAX_FILE_BYTES) -> ImageBytes:
    """An image file's undecoded contents, to decode elsewhere with :func:`read_image`.

    Raises
    ------
    ImageError
        Missing, empty, unreadable, or over ``max_bytes`` (checked before reading).
    """
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
        if size > max_bytes:
            raise ImageError(f"{name}: {size:,} bytes, over the limit of {max_bytes:,} for an image sent as bytes")
        with open(name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise ImageError(f"{name}: empty file")
    return ImageBytes(name, data)


def read_image(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` uint8 BGR array.

    Parameters
    ----------
    path : str, os.PathLike or ImageBytes
        A file in any format Pillow reads (JPEG, PNG, BMP, WebP, TIFF, GIF:
        first frame), or such a file's contents read by :func:`read_bytes`.
    max_pixels : int, default 50_000_000
        Refuse images with more pixels, judged from the header before decoding.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        BGR. Grayscale is repeated into three channels, alpha is dropped
        (composited on white), 16-bit values are scaled to 8 bits, and EXIF
        orientation is applied.

    Raises
    ------
    ImageError
        Missing, empty, non-image, corrupt, truncated or oversized files.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(path, ImageBytes):
        name, p = path.name, io.BytesIO(path.data)
        if not path.data:
            raise ImageError(f"{name}: empty file")
    else:
        name = os.fspath(path)
        p = Path(name)
        if not p.is_file():
            raise ImageError(f"{name}: no such file")
        if p.stat().st_size == 0:
            raise ImageError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's decompression-bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{name}: {width}x{height} is {width * height:,} pixels, over the "
                        f"limit of {max_pixels:,}; shrink it or raise max_pixels"
                    )
                if width == 0 or height == 0:
                    raise ImageError(f"{name}: image has no pixels")
                img.load()  # raises on truncated or corrupt data
                img = ImageOps.exif_transpose(img)
                return _pil_to_bgr(img, name)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as exc:   # Pillow's own, larger limit
        raise ImageError(f"{name}: too large to decode, over the limit of {max_pixels:,} "
                         f"pixels ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None


def _pil_to_bgr(img, name: str) -> np.ndarray:
    """Any Pillow mode to 8-bit BGR."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        peak = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: float image with NaN or infinite values")
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        gray = np.clip(arr * scale, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite on white: a transparent background is not a dark face.
        from PIL import Image
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def to_bgr(image: np.ndarray) -> np.ndarray:
    """An in-memory image as ``(H, W, 3)`` uint8 BGR: gray is repeated, alpha dropped.

    Raises
    ------
    ValueError
        For arrays that are not an image: wrong shape, empty, not uint8.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, np.newaxis], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        image = image[:, :, :3]
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    else:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image has no pixels (shape {image.shape})")
    return np.ascontiguousarray(image)


def to_gray(image: np.ndarray) -> np.ndarray:
    """A BGR (or gray) uint8 image as ``(H, W)`` uint8 luminance."""
    import cv2

    image = np.asarray(image)
    if image.ndim == 2:
        if image.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {image.dtype}")
        if image.size == 0:
            raise ValueError(f"image has no pixels (shape {image.shape})")
        # numpy calls a one-column view contiguous whatever its strides; dlib refuses them.
        if not image.flags.c_contiguous or image.strides[-1] != 1:
            image = image.copy()
        return image
    return cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2GRAY)


def scaled(image: np.ndarray, f: float) -> np.ndarray:
    """``image`` resized by ``f`` (area-averaged when shrinking), no side rounded down to
    nothing: a strip one pixel high stays one pixel high."""
    import cv2

    h, w = image.shape[:2]
    interpolation = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    if round(h * f) >= 1 and round(w * f) >= 1:
        return cv2.resize(image, None, fx=f, fy=f, interpolation=interpolation)
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=interpolation)
