"""The `maskhog live` window: each frame with every person's box and label, and the frame rate.

maskhog installs OpenCV without a GUI (``opencv-contrib-python-headless``, right
for kiosks and servers), so by default there is no window and the loop prints
events only. With OpenCV's GUI build installed instead
(``pip install opencv-contrib-python``) and a display, the window opens.
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["Preview", "window_image"]


def window_image(frame, tracks, fps: float):
    """What the window shows: ``frame`` with each person's box and label, and the frame rate.

    A person shows once their first verdict is in (``tracks`` may hold people still waiting).
    """
    from ..io.draw import draw_faces

    people = [t for t in tracks if t.label is not None]
    return draw_faces(frame, people, f"{fps:.1f} fps, {len(people)} people")


class Preview:
    """A window showing what the live loop sees; ``q``, Esc or closing it stops the loop."""

    TITLE = "maskhog live (q or Esc stops)"

    def __init__(self):
        self.is_open = False

    @staticmethod
    def unavailable() -> str | None:
        """Why no window can open here, or ``None`` when one can be tried."""
        import cv2

        gui = re.search(r"GUI:\s*(\S+)", cv2.getBuildInformation())
        if gui is None or gui.group(1).upper() == "NONE":
            return ("this OpenCV has no GUI (maskhog installs the headless build; "
                    "`pip install opencv-contrib-python` gives one)")
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                     or os.environ.get("WAYLAND_DISPLAY")):
            return "no display (DISPLAY is not set)"
        return None

    def open(self) -> str | None:
        """Open the window; return ``None``, or why it could not be opened."""
        import cv2

        why = self.unavailable()
        if why is None:
            try:
                cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)
                self.is_open = True
            except cv2.error as exc:
                why = f"OpenCV could not open a window ({str(exc).strip().splitlines()[-1]})"
        return why

    def show(self, frame, tracks, fps: float) -> bool:
        """Draw ``frame`` with the tracks' boxes and labels; ``False`` once the user stops."""
        import cv2

        cv2.imshow(self.TITLE, window_image(frame, tracks, fps))
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) < 1
        return not (key in (ord("q"), 27) or closed)

    def close(self) -> None:
        if self.is_open:
            import cv2

            cv2.destroyWindow(self.TITLE)
            self.is_open = False
