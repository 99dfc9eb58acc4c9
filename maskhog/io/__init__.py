"""Images in, results out: files, videos, cameras, drawings and records.

============  ==============================================================
:mod:`.images`   reading image files safely; BGR and gray conversions
:mod:`.sources`  command-line inputs, video files, cameras and streams
:mod:`.draw`     boxes and labels drawn on images
:mod:`.records`  results as JSON lines, JSON or CSV
:mod:`.demo`     the demo images (no download)
============  ==============================================================
"""

from .images import (DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageBytes, ImageError, read_bytes,
                     read_image, scaled, to_bgr, to_gray)
from .sources import expand_inputs, open_source, video_frames

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "ImageBytes", "ImageError", "expand_inputs",
           "open_source", "read_bytes", "read_image", "scaled", "to_bgr", "to_gray", "video_frames"]
