"""Media types of package files, from a fixed table.

The standard library's ``mimetypes`` reads ``/etc/mime.types`` and the Windows registry, so
the same package would get different manifests on different machines. A built manifest must
be reproducible, so the table lives here and anything unknown is an opaque byte stream.
"""

from __future__ import annotations

from pathlib import PurePosixPath

DEFAULT_MEDIA_TYPE = "application/octet-stream"

MEDIA_TYPES: dict[str, str] = {
    # Documents and code the browser runs in the content origin.
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "xhtml": "application/xhtml+xml",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json",
    "map": "application/json",
    "xml": "application/xml",
    "xsd": "application/xml",
    "dtd": "application/xml-dtd",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
    "wasm": "application/wasm",
    # Images.
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
    "ico": "image/vnd.microsoft.icon",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    # Fonts.
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "eot": "application/vnd.ms-fontobject",
    # Audio and video.
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/opus",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mov": "video/quicktime",
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    # Archives and office documents that packages ship as downloads.
    "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "swf": "application/x-shockwave-flash",
}


def media_type(path: str) -> str:
    """The media type for a package path, by its last extension, case-insensitively."""
    suffix = PurePosixPath(path).suffix.lower().lstrip(".")
    return MEDIA_TYPES.get(suffix, DEFAULT_MEDIA_TYPE)
