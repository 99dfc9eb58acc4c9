"""maskhog.io: every kind of bad file gets a clear ImageError naming it."""

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from maskhog.io import ImageError, read_bytes, read_image, to_bgr, to_gray


@pytest.fixture()
def photo(photos):
    return cv2.cvtColor(photos["astronaut"], cv2.COLOR_GRAY2BGR)


def test_reads_jpeg_and_png_as_bgr(tmp_path, photo):
    colour = photo.copy()
    colour[:, :, 2] = 255     # strong red channel
    cv2.imwrite(str(tmp_path / "a.png"), colour)
    cv2.imwrite(str(tmp_path / "a.jpg"), colour)
    png = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(png, colour)
    jpg = read_image(tmp_path / "a.jpg")
    assert jpg.shape == colour.shape and jpg.dtype == np.uint8
    assert jpg[:, :, 2].mean() > 250       # red stays in channel 2: BGR order


def test_grayscale_rgba_and_16bit_become_8bit_bgr(tmp_path, photos):
    gray = photos["camera"]
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").shape == gray.shape + (3,)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:10, :, 3] = 255                  # top half opaque red, bottom transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png")
    assert tuple(out[0, 0]) == (0, 0, 200) and tuple(out[-1, -1]) == (255, 255, 255)
    deep = (gray.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    np.testing.assert_array_equal(read_image(tmp_path / "d.png")[:, :, 0], gray)


def test_bad_files_raise_image_error_with_their_name(tmp_path, photo):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    cv2.imwrite(str(tmp_path / "full.jpg"), photo)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((tmp_path / "full.jpg").read_bytes()[:3000])
    for path, words in [(empty, "empty"), (text, "not an image"), (truncated, "truncated"),
                        (tmp_path / "missing.png", "no such file")]:
        with pytest.raises(ImageError, match=words) as info:
            read_image(path)
        assert str(path) in str(info.value)


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_claiming(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b""))
            + _chunk(b"IEND", b""))


def test_huge_images_are_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_claiming(100_000, 100_000))   # 10 gigapixels in 65 bytes
    with pytest.raises(ImageError, match="over the limit"):
        read_image(bomb)
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageError, match="over the limit"):
        read_image(small, max_pixels=5_000)


def test_a_file_read_as_bytes_decodes_as_the_file_does(tmp_path, photo):
    """What --send-images sends: the same pixels, and the same refusals under the file's name."""
    cv2.imwrite(str(tmp_path / "a.jpg"), photo)
    sent = read_bytes(tmp_path / "a.jpg")
    assert sent.name == str(tmp_path / "a.jpg")
    np.testing.assert_array_equal(read_image(sent), read_image(tmp_path / "a.jpg"))
    (tmp_path / "notes.jpg").write_text("not an image at all")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image"):
        read_image(read_bytes(tmp_path / "notes.jpg"))
    (tmp_path / "bomb.png").write_bytes(_png_header_claiming(100_000, 100_000))
    with pytest.raises(ImageError, match=r"bomb\.png: .*over the limit"):
        read_image(read_bytes(tmp_path / "bomb.png"))
    (tmp_path / "empty.jpg").write_bytes(b"")
    for path, words in [(tmp_path / "empty.jpg", "empty file"), (tmp_path / "missing.jpg", "no such file"),
                        (tmp_path, "a folder")]:
        with pytest.raises(ImageError, match=words):
            read_bytes(path)
    with pytest.raises(ImageError, match="over the limit of 1,000 for an image sent as bytes"):
        read_bytes(tmp_path / "a.jpg", max_bytes=1000)


def test_in_memory_conversions(photos):
    gray = photos["coins"]
    assert to_bgr(gray).shape == gray.shape + (3,)
    np.testing.assert_array_equal(to_gray(to_bgr(gray)), gray)
    with pytest.raises(ValueError, match="uint8"):
        to_bgr(gray.astype(float))
    with pytest.raises(ValueError, match="no pixels"):
        to_bgr(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        to_bgr(np.zeros((4, 4, 2), np.uint8))
