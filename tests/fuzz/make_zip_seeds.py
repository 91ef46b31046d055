#!/usr/bin/env python3
"""Writes the zip reader's fuzz seeds into tests/fuzz/seeds/zip/: small archives of the kinds it
reads (stored, deflated, ZIP64 records, a folder, a stub before the archive, a comment, a CP437
name) so that mutations start from every structure. Run again to remake them."""
import io
import os
import zipfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "zip")
DOC = b'{"cik":320193,"entityType":"operating","filings":{"recent":{"form":["10-K","10-Q"]}}}'


def archive(members, compression=zipfile.ZIP_DEFLATED, zip64=False, comment=b""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            with z.open(zipfile.ZipInfo(name), "w", force_zip64=zip64) as f:
                f.write(data)
        z.comment = comment
    return buf.getvalue()


def main():
    os.makedirs(HERE, exist_ok=True)
    seeds = {
        "deflated.zip": archive([("CIK0000320193.json", DOC * 4), ("CIK0000000001.json", b"{}")]),
        "stored.zip": archive([("CIK0000320193.json", DOC)], zipfile.ZIP_STORED),
        "zip64.zip": archive([("submissions/CIK0000320193.json", DOC)], zip64=True),
        "folders.zip": archive([("a/", b""), ("a/b/CIK0000000002.json", DOC), ("readme.txt", b"x")]),
        "comment.zip": archive([("CIK0000320193.json", DOC)], comment=b"edgarpipe fuzz seed"),
        "stub.zip": b"#!/bin/sh\nexit 0\n" + archive([("CIK0000320193.json", DOC)]),
        "empty.zip": archive([]),
    }
    cp437 = bytearray(archive([("Xber.json", DOC)], zipfile.ZIP_STORED))
    for at in range(len(cp437) - 8):  # the name, in both headers, as CP437 (flag bit 11 is unset)
        if cp437[at:at + 8] == b"Xber.jso":
            cp437[at] = 0x81
    seeds["cp437.zip"] = bytes(cp437)
    for name, data in seeds.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {HERE}")


if __name__ == "__main__":
    main()
