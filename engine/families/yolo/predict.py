"""Run a registered YOLO model on one uploaded image (called on a worker by ``jobs.inference``).

Returns plain data: detections with boxes (and polygons for segment), top-5 classes for
classify, and the image annotated with PIL as PNG bytes (PIL's built-in font: nothing to download).
"""
from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from engine.families.yolo.offline import prepare_ultralytics

__all__ = ["predict", "load", "annotate"]

PALETTE = ((255, 56, 56), (72, 130, 255), (50, 205, 50), (255, 157, 25), (170, 70, 255), (0, 200, 200),
           (255, 55, 200), (140, 140, 0))


def annotate(image: Image.Image, result: dict[str, Any]) -> bytes:
    """Draw boxes, polygons and labels (or the top-1 class) onto ``image``; return PNG bytes."""
    img = image.convert("RGB")
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw, over = ImageDraw.Draw(img), ImageDraw.Draw(overlay)
    font = ImageFont.load_default()
    for det in result.get("detections", []):
        color = PALETTE[det["class_id"] % len(PALETTE)]
        if det.get("polygon") and len(det["polygon"]) >= 3:
            over.polygon([tuple(p) for p in det["polygon"]], fill=(*color, 90))
    img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(1, round(max(img.size) / 200))
    for det in result.get("detections", []):
        color = PALETTE[det["class_id"] % len(PALETTE)]
        x1, y1, x2, y2 = det["box"]
        draw.rectangle((x1, y1, x2, y2), outline=color, width=width)
        text = f"{det['class']} {det['confidence']:.2f}"
        tx, ty = x1, max(0, y1 - 11)
        bbox = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle(bbox, fill=color)
        draw.text((tx, ty), text, fill=(255, 255, 255), font=font)
    if result.get("top5"):
        top = result["top5"][0]
        text = f"{top['class']} {top['confidence']:.2f}"
        bbox = draw.textbbox((4, 4), text, font=font)
        draw.rectangle(bbox, fill=(0, 0, 0))
        draw.text((4, 4), text, fill=(255, 255, 255), font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def load(model: Any) -> Any:
    """The Ultralytics model of a registered artifact, for the scoring worker to keep loaded."""
    prepare_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(model.artifact_path), task=model.task)


def predict(model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload``: ``image`` (bytes), optional ``conf`` (0.25), ``iou`` (0.7), ``imgsz``, ``annotate`` (True)."""
    image = Image.open(io.BytesIO(payload["image"])).convert("RGB")
    yolo = getattr(model, "loaded", None) or load(model)
    kwargs: dict[str, Any] = {"conf": float(payload.get("conf", 0.25)), "iou": float(payload.get("iou", 0.7)),
                              "device": "cpu", "verbose": False}
    if payload.get("imgsz"):
        kwargs["imgsz"] = int(payload["imgsz"])
    res = yolo.predict(image, **kwargs)[0]
    names = {int(k): str(v) for k, v in res.names.items()}
    out: dict[str, Any] = {"task": model.task, "names": names, "width": image.width, "height": image.height,
                           "detections": [], "top5": []}
    if res.probs is not None:
        probs = res.probs
        out["top5"] = [{"class_id": int(i), "class": names[int(i)], "confidence": float(c)}
                       for i, c in zip(probs.top5, probs.top5conf.tolist())]
    if res.boxes is not None:
        polys = res.masks.xy if res.masks is not None else [None] * len(res.boxes)
        for box, cls, conf, poly in zip(res.boxes.xyxy.tolist(), res.boxes.cls.tolist(), res.boxes.conf.tolist(), polys):
            det = {"class_id": int(cls), "class": names[int(cls)], "confidence": float(conf),
                   "box": [round(v, 2) for v in box]}
            if poly is not None:
                det["polygon"] = [[round(float(x), 2), round(float(y), 2)] for x, y in poly]
            out["detections"].append(det)
    if payload.get("annotate", True):
        out["image_png"] = annotate(image, out)
    return out
