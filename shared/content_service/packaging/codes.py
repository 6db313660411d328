"""Every problem code the import sandbox and the builder can report, with what it means.

Codes are stable and machine-readable: clients and tests match on them, never on the detail
text. The standards parsers' codes (``xml.*``, ``launch.*``, ``scorm.*``, ...) live in
``content_service.standards.problems``. A unit test keeps this table and the code in step.
"""

from __future__ import annotations

from typing import Final

SANDBOX_CODES: Final[dict[str, str]] = {
    # The archive as a whole.
    "zip.not_a_zip": "the file is not a zip archive",
    "zip.truncated": "the archive, or a structure or entry in it, is cut short",
    "zip.trailing_data": "bytes follow the End Of Central Directory record",
    "zip.unexpected_data": "bytes precede the first entry (self-extractor stubs, polyglot files)",
    "zip.ambiguous_structure": "two End Of Central Directory records, or classic and ZIP64 ones disagree",
    "zip.multi_disk": "a split or multi-disk archive",
    "zip.bad_central_directory": "the central directory's count, size or records do not add up",
    "zip.bad_extra_field": "an entry's extra field is malformed, repeats a block or lacks its ZIP64 values",
    "zip.bad_local_header": "an entry's local header is missing where the central directory points",
    "zip.bad_offset": "an entry's offset or size points outside the bytes before the central directory",
    "zip.bad_data_descriptor": "an entry flagged with a data descriptor has none that repeats its CRC and sizes",
    "zip.header_mismatch": "a local header disagrees with its central record (name, method, sizes, CRC)",
    "zip.overlapping_entries": "entries share bytes or run into the central directory (overlap zip bomb)",
    "zip.hidden_data": "bytes between entries, or before the central directory, that belong to no entry",
    "zip.hidden_entry": "a local header no central record lists, in bytes no entry owns or in the archive comment",
    "zip.empty": "the archive has no entries",
    "zip.upload_too_large": "the archive itself is larger than the upload limit",
    "zip.too_many_files": "more files than the limit",
    "zip.too_large": "the files' uncompressed sizes add up to more than the limit",
    "zip.file_too_large": "one file is larger than the per-file limit",
    "zip.compression_ratio": "a file, or the whole archive, expands more than the ratio limit (zip bomb)",
    # Entry names.
    "zip.empty_name": "an entry has an empty name",
    "zip.nul_in_name": "a name contains a NUL byte (zipfile would cut it there)",
    "zip.control_char_in_name": "a name contains control or invisible characters (terminal, bidi tricks)",
    "zip.bad_name_encoding": "a name is flagged UTF-8 but is not valid UTF-8, or holds overlong/surrogate UTF-8",
    "zip.ambiguous_name": "an Info-ZIP Unicode Path field gives a UTF-8 named entry a different name",
    "zip.bad_unicode_extra": "a Unicode Path/Comment field is malformed, has a wrong CRC, or is in a local header only",
    "zip.lookalike_name": "a name that becomes dangerous once lookalike characters (U+2024, U+FF0E, ...) are folded",
    "zip.path_traversal": "a name climbs out of the package with '..'",
    "zip.absolute_path": "a name is an absolute path (including //host/share)",
    "zip.drive_letter": "a name or one of its segments is a Windows drive (C:)",
    "zip.backslash_in_name": "a name contains a backslash (Windows separator, UNC paths)",
    "zip.unnormalised_path": "a name has empty or '.' segments",
    "zip.unportable_name": 'a segment Windows cannot hold: device names, trailing dot or space, <>:"|?*',
    "zip.path_too_deep": "a path has more segments than the depth limit",
    "zip.path_too_long": "a path is longer than the length limit, or a segment longer than 255 bytes",
    "zip.duplicate_name": "two entries have the same name",
    "zip.name_collision": "names collide under case folding or Unicode NFC, or a file is also a directory",
    "zip.server_executable": "a file a web server could execute (.php, .asp, .jsp, .cgi, .sh, .exe, ...)",
    "zip.server_config": "a web server configuration file (.htaccess, web.config, .user.ini, ...)",
    # Entry kinds and encodings.
    "zip.symlink": "a symbolic link or Windows reparse point",
    "zip.special_file": "a device, pipe or socket: only regular files and directories are accepted",
    "zip.bad_directory_entry": "a directory entry that carries data, or a directory whose name lacks '/'",
    "zip.encrypted": "an encrypted entry (traditional, strong or AES encryption)",
    "zip.unsupported_compression": "a compression method other than stored and deflate",
    # Content, found while streaming.
    "zip.size_mismatch": "the content is not the size its headers declare",
    "zip.crc_mismatch": "the content does not match its CRC-32",
    "zip.corrupt_data": "the compressed data is damaged or does not end with the entry",
    "zip.descriptor_too_large": "a descriptor is larger than the descriptor limit",
    "zip.missing_entry": "a descriptor the parser asked for is not in the package",
    # The built manifest.
    "package.invalid_manifest": "the files and launches break a PlayPackage manifest invariant",
    # The last-resort boundary (packaging/boundary.py): a defect of the service, logged with its stack.
    "internal.validation_crashed": "validation hit an unexpected error; the package is refused and the error logged",
    "internal.build_crashed": "the build hit an unexpected error reading the package; it fails and the error is logged",
}

UPLOAD_CODES: Final[dict[str, str]] = {
    "upload.too_large": "the stored upload is larger than the upload limit",
    "upload.length_mismatch": "the stored upload's byte length is not the content_length declared for it",
    "upload.content_type_mismatch": "the stored upload's Content-Type is not the content_type declared for it",
}
"""The build's checks of the uploaded object against what ``POST /v1/uploads`` declared."""
