"""Benign synthetic pictures for tests; the generator lives in `himaya.demo.pictures` (the demo uses it too).

Different seeds give visually unrelated pictures (PDQ distance ~110-128), so a test can tell "a copy of
this picture" from "another picture".

Besides `photo_like`, a few other kinds of generated content (gradients, text, smooth noise, a dark but
textured sky) give the PDQ variant tests a varied corpus, and the copy helpers re-share a picture the
way pictures get re-shared: turned, mirrored, framed, letterboxed, or screenshotted on a plain canvas.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from himaya.demo.pictures import camera_exif, encode, photo_jpeg, photo_like

__all__ = [
    "camera_exif",
    "dark_sky_picture",
    "encode",
    "framed",
    "gradient_picture",
    "letterboxed",
    "mirrored",
    "noise_picture",
    "on_canvas",
    "photo_jpeg",
    "photo_like",
    "rotated",
    "text_picture",
    "varied_pictures",
]

Colour = tuple[int, int, int]


# Other kinds of content -------------------------------------------------------------------------------


def gradient_picture(seed: int, width: int = 640, height: int = 480, shapes: int = 10) -> Image.Image:
    """A linear colour gradient in a random direction, with a few flat shapes on it (none if shapes=0)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    start, end = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    pixels = start + ramp[..., None] * (end - start)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(shapes):
        x0, y0 = int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height * 3 // 4))
        x1, y1 = (
            x0 + int(rng.integers(width // 10, width // 3)),
            y0 + int(rng.integers(height // 10, height // 3)),
        )
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def text_picture(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """Lines of made-up words in several sizes over a smooth coloured background."""
    rng = np.random.default_rng(seed)
    image = noise_picture(seed + 10_000, width, height, contrast=0.35)
    draw = ImageDraw.Draw(image)
    letters = "abcdefghijklmnopqrstuvwxyz"
    y = int(rng.integers(height // 40, height // 10))
    while y < height * 0.9:
        size = int(rng.integers(height // 20, height // 8))
        font = ImageFont.load_default(size)
        words = [
            "".join(letters[int(i)] for i in rng.integers(0, 26, size=int(rng.integers(2, 9))))
            for _ in range(int(rng.integers(2, 6)))
        ]
        ink = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.text((int(rng.integers(0, width // 4)), y), " ".join(words).upper(), fill=ink, font=font)
        y += int(size * rng.uniform(1.2, 1.8))
    return image


def noise_picture(seed: int, width: int = 640, height: int = 480, contrast: float = 1.0) -> Image.Image:
    """Smooth coloured noise (blurred random blobs at several scales), like clouds or foliage."""
    rng = np.random.default_rng(seed)
    total = np.zeros((height, width, 3), dtype=np.float32)
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        small = rng.random((cells * height // width + 1, cells, 3)).astype(np.float32)
        layer = Image.fromarray((small * 255).astype(np.uint8), "RGB").resize(
            (width, height), Image.Resampling.BICUBIC
        )
        total += weight * np.asarray(layer, dtype=np.float32)
    total /= 1.75
    total = 128 + (total - total.mean()) * 1.6 * contrast
    total += rng.normal(0, 3, size=total.shape).astype(np.float32)
    return Image.fromarray(np.clip(total, 0, 255).astype(np.uint8), "RGB")


def dark_sky_picture(seed: int, width: int = 640, height: int = 480, sky: float = 0.3) -> Image.Image:
    """A `photo_like` scene under a dark, textured sky band across the top (not a border: it has texture)."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(photo_like(seed, width, height)).astype(np.float32)
    band = int(height * sky)
    clouds = np.asarray(noise_picture(seed + 20_000, width, band), dtype=np.float32)
    pixels[:band] = 4 + clouds * 0.2 + rng.normal(0, 3, size=clouds.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image.filter(ImageFilter.GaussianBlur(0.6))


def varied_pictures(width: int = 640, height: int = 480, seed: int = 7100) -> list[tuple[str, Image.Image]]:
    """20 unrelated pictures of 5 kinds, each named: 6 photo-like, 4 gradients with shapes, 4 text,
    3 smooth noise, 3 under a dark textured sky. All have PDQ quality >= 50 (a set's default floor).

    The same seed at another size gives the same scenes stretched; pass another seed for other pictures.
    """
    kinds = (
        ("photo", 6, photo_like),
        ("gradient", 4, gradient_picture),
        ("text", 4, text_picture),
        ("noise", 3, noise_picture),
        ("dark-sky", 3, dark_sky_picture),
    )
    return [
        (f"{kind}-{n}", make(seed + 10 * number + n, width, height))
        for number, (kind, count, make) in enumerate(kinds)
        for n in range(count)
    ]


# Re-shared copies ---------------------------------------------------------------------------------------


def rotated(image: Image.Image, degrees: int) -> Image.Image:
    """The picture turned counter-clockwise by 90, 180 or 270 degrees, losslessly."""
    turns = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    return image.transpose(turns[degrees])


def mirrored(image: Image.Image, axis: str) -> Image.Image:
    """The picture mirrored left-right ("horizontal") or top-bottom ("vertical")."""
    flips = {"horizontal": Image.Transpose.FLIP_LEFT_RIGHT, "vertical": Image.Transpose.FLIP_TOP_BOTTOM}
    return image.transpose(flips[axis])


def framed(image: Image.Image, share: float, colour: Colour = (0, 0, 0)) -> Image.Image:
    """The picture inside a uniform frame `share` of its short side thick, on every side."""
    thickness = round(share * min(image.size))
    width, height = image.size
    canvas = Image.new("RGB", (width + 2 * thickness, height + 2 * thickness), colour)
    canvas.paste(image, (thickness, thickness))
    return canvas


def letterboxed(image: Image.Image, ratio: tuple[int, int], colour: Colour = (0, 0, 0)) -> Image.Image:
    """The picture with bars that make it `ratio` (width, height): top and bottom if it is wider than
    that, left and right (pillarbox) if it is narrower, as a video player or a phone gallery shows it."""
    width, height = image.size
    if width * ratio[1] >= height * ratio[0]:
        size = (width, round(width * ratio[1] / ratio[0]))
    else:
        size = (round(height * ratio[0] / ratio[1]), height)
    canvas = Image.new("RGB", size, colour)
    canvas.paste(image, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


def on_canvas(
    image: Image.Image,
    canvas: tuple[int, int],
    at: tuple[float, float] = (0.3, 0.4),
    scale: float = 1.0,
    colour: Colour = (255, 255, 255),
) -> Image.Image:
    """A screenshot of the picture shown in a viewer: scaled, pasted off-centre on a plain canvas.

    `at` places it as a share of the free room on each axis (0.5, 0.5 is centred).
    """
    if scale != 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    if image.width > canvas[0] or image.height > canvas[1]:
        raise ValueError(f"a {image.size} picture does not fit a {canvas} canvas")
    screen = Image.new("RGB", canvas, colour)
    screen.paste(image, (round((canvas[0] - image.width) * at[0]), round((canvas[1] - image.height) * at[1])))
    return screen
