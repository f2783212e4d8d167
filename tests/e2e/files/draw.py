"""A graph that answers with files, the way a model or a tool that makes charts does: an AI message whose
content has a text block, two PNG images and a PDF (base64 blocks), for the tests of files out."""

from __future__ import annotations

import base64
import struct
import zlib

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


def bars(heights: list[int], width: int = 160, height: int = 90) -> bytes:
    """A small bar chart as a PNG (RGB, no dependencies)."""
    step = width // len(heights)
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            bar = x // step
            filled = x % step < step - 6 and height - y <= heights[min(bar, len(heights) - 1)]
            row += bytes((79, 70, 229) if filled else (245, 246, 250))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


PNG = bars([30, 55, 48, 80])
COSTS = bars([60, 40, 45, 35])
PDF = b"%PDF-1.7\n" + b"the quarterly report " * 50


def draw(state: MessagesState) -> dict:
    def block(kind: str, data: bytes, mime: str, name: str) -> dict:
        return {
            "type": kind,
            "base64": base64.b64encode(data).decode(),
            "mime_type": mime,
            "extras": {"filename": name},
        }

    return {
        "messages": [
            AIMessage(
                content=[
                    {"type": "text", "text": "Here are the charts and the report."},
                    block("image", PNG, "image/png", "revenue.png"),
                    block("image", COSTS, "image/png", "costs.png"),
                    block("file", PDF, "application/pdf", "report.pdf"),
                ]
            )
        ]
    }


graph = StateGraph(MessagesState)
graph.add_node("draw", draw)
graph.add_edge(START, "draw")
graph.add_edge("draw", END)
