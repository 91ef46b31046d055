#!/usr/bin/env python3
"""A TDS 7.4 endpoint that records and decodes what a SQL Server client sends, per MS-TDS.

No SQL Server can run on the build machines, so the SQL Server sink is checked here: FreeTDS
connects to this endpoint exactly as it would to a server, and every bulk-load stream it sends
(MS-TDS 2.2.6.1 BulkLoadBCP: COLMETADATA, then ROW tokens) is decoded strictly from the bytes, with
the column metadata the stream itself declares. Anything that does not follow the specification
is recorded as an error. Enough of the server side is played to get there: PRELOGIN (no TLS),
LOGIN7 with LOGINACK, SQL batches answered with DONE, CREATE TABLE statements remembered so that
FreeTDS's `SET FMTONLY ON select * from T` gets T's COLMETADATA, `SELECT TOP 0 * INTO #t FROM T`
staging tables, and the queries of a first run (the new run_id; no file loaded yet, so counts of
ingest_files rows are 0), so that a whole `edgarpipe run` can load into it as into an empty
database. A bulk stream with a
value equal to REFUSE_MARKER gets error 2627, as a constraint violation would. Events carry their
connection's number, so a test can replay BEGIN/COMMIT/ROLLBACK and count only committed rows.

Every event goes to --out as one JSON object per line:
  {"kind": "login", "user": ..., "database": ..., "password": ..., "packet_size": ...}
  {"kind": "sql", "text": ...}
  {"kind": "bulk", "table": ..., "statement": "insert bulk ...", "columns": [...], "rows": [[...], ...]}
  {"kind": "error", "text": ...}     (a violation of the specification: tests fail on any)

Values decode to JSON as: integers as numbers, DECIMAL as exact text with the declared scale,
DATE as "YYYY-MM-DD", DATETIME2 as "YYYY-MM-DD HH:MM:SS.fff...", NVARCHAR from UTF-16LE (strictly:
an odd length or a lone surrogate is an error), NULL as null.

Canned answers stand for a real server's where a client's reading of results is tested (CANNED:
empty strings, DATETIME2 values), and --concept-conflicts N fails the first N concepts inserts
with error 2627, as a concurrent writer inserting the same concept would on a server that does
not honour UPDLOCK, HOLDLOCK.

--loaded-elsewhere answers the writer's check after a refusal (loaded_elsewhere_sql) with 1, as
a server would when another run loaded the same document first.

--earlier-release DDL_FILE VERSION starts with the tables of DDL_FILE, as a database an earlier release
made, and answers the questions of an upgrade: a column's collation (a column declared without
COLLATE has the server default's, case-insensitive), a primary key's name, the schema version.
ALTER COLUMN changes a remembered column. A facts bulk stream with two rows of one facts_key, text
compared in the columns' collations, gets error 2601, as a unique index would refuse it.

Usage: tds_server.py --out FILE [--discard] [--concept-conflicts N] [--loaded-elsewhere]
       [--earlier-release DDL_FILE VERSION]
       (prints "PORT <n>" once listening on 127.0.0.1)
"""
import argparse
import datetime
import json
import re
import socket
import struct
import sys
import threading

PACKET_SQL_BATCH, PACKET_REPLY, PACKET_ATTENTION, PACKET_BULK = 0x01, 0x04, 0x06, 0x07
PACKET_LOGIN7, PACKET_PRELOGIN = 0x10, 0x12

TOKEN_COLMETADATA, TOKEN_ROW, TOKEN_DONE = 0x81, 0xD1, 0xFD
# MS-TDS 2.2.5.1.2 COLLATION: LCID (20 bits), then fIgnoreCase, fIgnoreAccent, fIgnoreWidth,
# fIgnoreKana, fBinary, fBinary2, fUTF8, a reserved bit, Version (4 bits), then SortId.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])  # a column without COLLATE: the default, SQL_Latin1_General_CP1_CI_AS
COLLATIONS = {
    "LATIN1_GENERAL_100_BIN2": bytes([0x09, 0x04, 0x00, 0x12, 0x00]),  # fBinary2, version 1
    "LATIN1_GENERAL_100_BIN2_UTF8": bytes([0x09, 0x04, 0x00, 0x16, 0x00]),  # fBinary2, fUTF8, version 1
    "LATIN1_GENERAL_100_CI_AS_SC_UTF8": bytes([0x09, 0x04, 0xD0, 0x14, 0x00]),
}
DEFAULT_COLLATION_NAME = "SQL_Latin1_General_CP1_CI_AS"


def collation_of(sql_type):
    """The COLLATE name of a declared text type, or the server default's."""
    m = re.search(r" COLLATE (\S+)", sql_type)
    return m.group(1) if m else DEFAULT_COLLATION_NAME


def case_insensitive(sql_type):
    return "_CI_" in collation_of(sql_type).upper()

# SQL type name -> (TYPE_INFO builder for COLMETADATA)
FIXED = {0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x3A: 4, 0x3B: 4, 0x3C: 8, 0x3D: 8, 0x3E: 8, 0x7A: 4}
BYTE_LEN = {0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24}
USHORT_LEN_COLLATED = {0xE7, 0xA7, 0xAF, 0xEF}
USHORT_LEN = {0xA5, 0xAD}
SCALED_TIME = {0x29, 0x2A, 0x2B}
DECIMALS = {0x6A, 0x6C}


class Log:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **event):
        with self.lock:
            self.file.write(json.dumps(event, ensure_ascii=False) + "\n")
            self.file.flush()


class Spec(Exception):
    """A violation of MS-TDS in what the client sent."""


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise Spec(f"stream ends inside a field ({n} bytes wanted at {self.at} of {len(self.data)})")
        b = self.data[self.at:self.at + n]
        self.at += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def b_varchar(self):
        return utf16(self.take(2 * self.u8()))

    def done(self):
        return self.at == len(self.data)


def utf16(b):
    if len(b) % 2:
        raise Spec(f"UTF-16LE text of odd length {len(b)}")
    try:
        return b.decode("utf-16-le", errors="strict")
    except UnicodeDecodeError as e:
        raise Spec(f"invalid UTF-16LE text: {e}")


def ucs2(s):
    return s.encode("utf-16-le")


def b_varchar(s):
    return bytes([len(s)]) + ucs2(s)


# ---------------------------------------------------------------------------------------------
# Column types: from our DDL text to TYPE_INFO (for FMTONLY answers), and TYPE_INFO decoding.

def type_info_for(sql_type, nullable):
    t = sql_type.upper()
    if t in ("BIGINT", "INT", "SMALLINT"):
        size = {"BIGINT": 8, "INT": 4, "SMALLINT": 2}[t]
        if nullable:
            return bytes([0x26, size])
        return bytes([{8: 0x7F, 4: 0x38, 2: 0x34}[size]])
    if t == "DATE":
        return bytes([0x28])
    m = re.fullmatch(r"DATETIME2(?:\((\d)\))?", t)
    if m:
        return bytes([0x2A, int(m.group(1) or 7)])
    m = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", t)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2))
        return bytes([0x6A, 17, precision, scale])
    m = re.fullmatch(r"N?VARCHAR\((\d+|MAX)\)(?: COLLATE \S+)?", t)
    if m:
        code = 0xE7 if t.startswith("N") else 0xA7
        if m.group(1) == "MAX":
            size = 0xFFFF
        else:
            size = int(m.group(1)) * (2 if code == 0xE7 else 1)
        return bytes([code]) + struct.pack("<H", size) + COLLATIONS.get(collation_of(t), COLLATION)
    raise ValueError(f"type {sql_type} not known to the test server")


def read_type_info(r):
    code = r.u8()
    info = {"code": code}
    if code in FIXED:
        info["size"] = FIXED[code]
    elif code in BYTE_LEN:
        info["size"] = r.u8()
    elif code in DECIMALS:
        info["size"], info["precision"], info["scale"] = r.u8(), r.u8(), r.u8()
        if not 1 <= info["precision"] <= 38 or info["scale"] > info["precision"]:
            raise Spec(f"DECIMAL({info['precision']},{info['scale']}) is not a valid type")
    elif code == 0x28:
        pass
    elif code in SCALED_TIME:
        info["scale"] = r.u8()
        if info["scale"] > 7:
            raise Spec(f"time scale {info['scale']} > 7")
    elif code in USHORT_LEN_COLLATED:
        info["size"] = r.u16()
        info["collation"] = r.take(5).hex()
    elif code in USHORT_LEN:
        info["size"] = r.u16()
    else:
        raise Spec(f"TYPE_INFO 0x{code:02x} is not a type this sink should send")
    return info


def type_name(info):
    code = info["code"]
    names = {0x7F: "INT8", 0x38: "INT4", 0x34: "INT2", 0x30: "INT1", 0x26: "INTN", 0x28: "DATEN", 0x2A: "DATETIME2N",
             0x6A: "DECIMALN", 0x6C: "NUMERICN", 0xE7: "NVARCHAR", 0xA7: "BIGVARCHR", 0xAF: "BIGCHAR", 0xEF: "NCHAR"}
    return names.get(code, f"0x{code:02x}")


def days_to_date(days):
    return datetime.date(1, 1, 1) + datetime.timedelta(days=days)


def read_value(r, info):
    code = info["code"]
    if code in FIXED:
        b = r.take(FIXED[code])
        return int.from_bytes(b, "little", signed=True)
    if code == 0x26:
        n = r.u8()
        if n == 0:
            return None
        if n not in (1, 2, 4, 8) or n > info["size"]:
            raise Spec(f"INTN value of length {n} in a column of size {info['size']}")
        return int.from_bytes(r.take(n), "little", signed=n != 1)
    if code in DECIMALS:
        n = r.u8()
        if n == 0:
            return None
        if n not in (5, 9, 13, 17):
            raise Spec(f"DECIMAL value of length {n}")
        sign = r.u8()
        if sign not in (0, 1):
            raise Spec(f"DECIMAL sign byte {sign}")
        magnitude = int.from_bytes(r.take(n - 1), "little")
        if magnitude >= 10 ** info["precision"]:
            raise Spec(f"DECIMAL magnitude {magnitude} exceeds precision {info['precision']}")
        digits = str(magnitude).rjust(info["scale"] + 1, "0")
        scale = info["scale"]
        text = digits[:len(digits) - scale] + ("." + digits[len(digits) - scale:] if scale else "")
        return ("-" if sign == 0 else "") + text
    if code == 0x28:
        n = r.u8()
        if n == 0:
            return None
        if n != 3:
            raise Spec(f"DATE value of length {n}")
        return days_to_date(int.from_bytes(r.take(3), "little")).isoformat()
    if code == 0x2A:
        n = r.u8()
        if n == 0:
            return None
        scale = info["scale"]
        time_len = 3 if scale <= 2 else 4 if scale <= 4 else 5
        if n != time_len + 3:
            raise Spec(f"DATETIME2({scale}) value of length {n}, expected {time_len + 3}")
        ticks = int.from_bytes(r.take(time_len), "little")
        day = days_to_date(int.from_bytes(r.take(3), "little"))
        seconds, fraction = divmod(ticks, 10 ** scale)
        if seconds >= 86400:
            raise Spec(f"DATETIME2 time of day {seconds} s")
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return f"{day.isoformat()} {clock}" + (f".{fraction:0{scale}d}" if scale else "")
    if code in USHORT_LEN_COLLATED:
        unicode = code in (0xE7, 0xEF)
        if info["size"] == 0xFFFF:  # (MAX): PLP
            total = r.u64()
            if total == 0xFFFFFFFFFFFFFFFF:
                return None
            body = b""
            while True:
                chunk = r.u32()
                if chunk == 0:
                    break
                body += r.take(chunk)
            if total != 0xFFFFFFFFFFFFFFFE and total != len(body):
                raise Spec(f"PLP declares {total} bytes but carries {len(body)}")
        else:
            n = r.u16()
            if n == 0xFFFF:
                return None
            if n > info["size"]:
                raise Spec(f"value of {n} bytes in a column of {info['size']}")
            body = r.take(n)
        if unicode:
            return utf16(body)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Spec(f"VARCHAR bytes are not UTF-8: {e}")
    raise Spec(f"no value decoder for 0x{code:02x}")


def decode_bulk(payload):
    """MS-TDS 2.2.6.1: COLMETADATA, ROW tokens, an optional DONE (FreeTDS omits it)."""
    r = Reader(payload)
    if r.u8() != TOKEN_COLMETADATA:
        raise Spec("a bulk-load stream must start with COLMETADATA")
    count = r.u16()
    columns = []
    for _ in range(count):
        r.u32()  # UserType
        flags = r.u16()
        info = read_type_info(r)
        name = r.b_varchar()
        columns.append({"name": name, "type": type_name(info), "nullable": bool(flags & 1), **info})
    rows = []
    while not r.done():
        token = r.u8()
        if token == TOKEN_ROW:
            row = []
            for c in columns:
                v = read_value(r, c)
                if v is None and not c["nullable"]:
                    raise Spec(f"NULL sent for NOT NULL column {c['name']}")
                row.append(v)
            rows.append(row)
        elif token == TOKEN_DONE:
            r.take(12)
            if not r.done():
                raise Spec("bytes after the DONE token")
        else:
            raise Spec(f"unexpected token 0x{token:02x} in a bulk-load stream at byte {r.at - 1}")
    return columns, rows


# ---------------------------------------------------------------------------------------------
# The server side.

def done(status=0, count=0, curcmd=0xC1):
    return struct.pack("<BHHQ", TOKEN_DONE, status, curcmd, count)


def error_token(number, text, severity=16):
    body = struct.pack("<IBB", number, 1, severity) + struct.pack("<H", len(text)) + ucs2(text)
    body += b_varchar("tds_server") + b_varchar("") + struct.pack("<I", 1)
    return bytes([0xAA]) + struct.pack("<H", len(body)) + body


def env_change(kind, new, old):
    body = bytes([kind]) + b_varchar(new) + b_varchar(old)
    return bytes([0xE3]) + struct.pack("<H", len(body)) + body


def row_token(columns, values):
    """A ROW token for `columns` (as colmetadata takes them), values in Python form: int, str,
    datetime.datetime (DATETIME2(7)) or None, encoded as a server sends them (MS-TDS 2.2.7.19)."""
    out = bytes([TOKEN_ROW])
    for (name, sql_type, nullable), v in zip(columns, values):
        t = sql_type.upper()
        if t in ("BIGINT", "INT"):
            size = 8 if t == "BIGINT" else 4
            if nullable:  # INTN: a length byte, 0 for NULL
                out += bytes([0]) if v is None else bytes([size]) + v.to_bytes(size, "little", signed=True)
            else:
                out += v.to_bytes(size, "little", signed=True)
        elif t.startswith("NVARCHAR"):
            out += struct.pack("<H", 0xFFFF) if v is None else struct.pack("<H", len(ucs2(v))) + ucs2(v)
        elif t.startswith("DATETIME2"):
            if v is None:
                out += bytes([0])
            else:  # scale 7: time in 100 ns units (5 bytes), then days since 0001-01-01 (3 bytes)
                midnight = v.replace(hour=0, minute=0, second=0, microsecond=0)
                ticks = (v - midnight) // datetime.timedelta(microseconds=1) * 10
                days = (v.date() - datetime.date(1, 1, 1)).days
                out += bytes([8]) + ticks.to_bytes(5, "little") + days.to_bytes(3, "little")
        else:
            raise ValueError(f"no row encoding for {sql_type} in the test server")
    return out


# Answers a real server would give to the admin's read-only queries, for the read-back tests: a
# run with a fractional start time and no end yet; a reject whose path and error are empty
# strings (not NULL), which a client must not pad.
CANNED = {
    "SELECT run_id, started_at, finished_at, status, files_seen": (
        [("run_id", "BIGINT", False), ("started_at", "DATETIME2(7)", False), ("finished_at", "DATETIME2(7)", True),
         ("status", "NVARCHAR(16)", False), ("files_seen", "BIGINT", True), ("files_loaded", "BIGINT", True),
         ("files_skipped", "BIGINT", True), ("files_rejected", "BIGINT", True), ("rows_written", "BIGINT", True)],
        [[7, datetime.datetime(2026, 12, 2, 10, 30, 36, 500000), None, "completed", 29, 28, 0, 1, 114126],
         [6, datetime.datetime(2026, 12, 1, 23, 5, 0), datetime.datetime(2026, 12, 1, 23, 6, 1), "completed",
          29, 29, 0, 0, 114126]]),
    "SELECT dataset, source_file, source_path, run_id, error FROM ingest_files WHERE status = 'rejected'": (
        [("dataset", "NVARCHAR(16)", False), ("source_file", "NVARCHAR(400)", False),
         ("source_path", "NVARCHAR(4000)", False), ("run_id", "BIGINT", True), ("error", "NVARCHAR(4000)", True)],
        [["submissions", "CIK0000000001.json", "", 7, ""]]),
}


def colmetadata(columns):
    out = bytes([TOKEN_COLMETADATA]) + struct.pack("<H", len(columns))
    for name, sql_type, nullable in columns:
        out += struct.pack("<IH", 0, 0x0009 if nullable else 0x0008)  # fNullable, fUpdateable
        out += type_info_for(sql_type, nullable) + b_varchar(name)
    return out


def parse_tables(ddl):
    """CREATE TABLE name ( col TYPE [NOT NULL] ..., PRIMARY KEY (...) ) from our DDL text."""
    tables = {}
    for m in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", ddl, re.S):
        columns = []
        for line in m.group(2).split(",\n"):
            line = line.strip()
            if not line or line.startswith("PRIMARY KEY"):
                continue
            name, rest = line.split(" ", 1)
            if "IDENTITY" in rest:
                columns.append((name, "BIGINT", False))
                continue
            sql_type = re.match(r"(\w+(?:\([\w,]+\))?(?: COLLATE \S+)?)", rest).group(1)
            columns.append((name, sql_type, "NOT NULL" not in rest))
        tables[m.group(1)] = columns
    return tables


FACTS_KEY = ("cik", "taxonomy", "concept", "unit", "period_start", "period_end", "accession_number")


def duplicate_key(declared, rows, key):
    """Whether two rows of one bulk stream have the same key, comparing text as the columns'
    collations do (a case-insensitive one takes "Well" and "well" as one)."""
    names = [c[0] for c in declared]
    fold = [case_insensitive(declared[names.index(k)][1]) for k in key]
    at = [names.index(k) for k in key]
    seen = set()
    for row in rows:
        k = tuple(row[i].casefold() if f and isinstance(row[i], str) else row[i] for i, f in zip(at, fold))
        if k in seen:
            return True
        seen.add(k)
    return False


RUN_IDS, RUN_IDS_LOCK = [], threading.Lock()
REFUSE_MARKER = "REFUSED BY THE TEST SERVER"  # a bulk stream with a row holding this value fails


class Session(threading.Thread):
    next_id = 0

    discard = False  # --discard: answer bulk loads without decoding them (for benchmarks)
    conflicts = 0    # --concept-conflicts N: the first N concepts inserts fail with error 2627
    loaded_elsewhere = False  # --loaded-elsewhere: a refused file was loaded by another run
    columnstore = False  # a CREATE CLUSTERED COLUMNSTORE INDEX on facts was run (--storage analytic)
    schema_version = None  # --earlier-release: edgarpipe_schema's version (else no row)

    def __init__(self, sock, log, tables):
        super().__init__(daemon=True)
        Session.next_id += 1
        self.id = Session.next_id
        self.sock, self.log, self.tables = sock, log, tables
        self.packet_size = 4096
        self.bulk_statement = None

    def recv_exact(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def read_message(self):
        parts = []
        while True:
            header = self.recv_exact(8)
            kind, status, length = header[0], header[1], struct.unpack(">H", header[2:4])[0]
            if length < 8 or length > 32768:
                raise Spec(f"packet length {length}")
            parts.append(self.recv_exact(length - 8))
            if status & 0x01:
                return kind, b"".join(parts)

    def send(self, payload, kind=PACKET_REPLY):
        room = self.packet_size - 8
        chunks = [payload[i:i + room] for i in range(0, len(payload), room)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            self.sock.sendall(struct.pack(">BBHHBB", kind, 1 if last else 0, len(chunk) + 8, 0, i + 1 & 0xFF, 0) + chunk)

    def run(self):
        try:
            while True:
                kind, payload = self.read_message()
                self.handle(kind, payload)
        except EOFError:
            pass
        except Spec as e:
            self.log.write(kind="error", text=str(e))
        except Exception as e:  # a bug here must fail the test, not hang it
            self.log.write(kind="error", text=f"test server: {type(e).__name__}: {e}")
        finally:
            self.sock.close()

    def handle(self, kind, payload):
        if kind == PACKET_PRELOGIN:
            options = [(0, struct.pack(">BBHH", 16, 0, 0, 0)), (1, b"\x02"), (2, b"\x00"), (3, b""), (4, b"\x00")]
            head_len = 5 * len(options) + 1
            head, body = b"", b""
            for token, data in options:
                head += struct.pack(">BHH", token, head_len + len(body), len(data))
                body += data
            self.send(head + b"\xff" + body)
        elif kind == PACKET_LOGIN7:
            self.login(payload)
        elif kind == PACKET_SQL_BATCH:
            r = Reader(payload)
            headers = r.u32()  # ALL_HEADERS (TDS 7.2+)
            r.at = headers
            self.sql(utf16(payload[r.at:]))
        elif kind == PACKET_BULK:
            self.bulk(payload)
        elif kind == PACKET_ATTENTION:
            self.send(done(0x0020))
        else:
            raise Spec(f"unexpected packet type 0x{kind:02x}")

    def login(self, payload):
        r = Reader(payload)
        tds_version = struct.unpack("<I", payload[4:8])[0]
        requested_packet = struct.unpack("<I", payload[8:12])[0]

        def field(at):
            offset, chars = struct.unpack("<HH", payload[at:at + 4])
            return payload[offset:offset + 2 * chars]

        password = bytes((((b ^ 0xA5) & 0x0F) << 4) | ((b ^ 0xA5) >> 4) for b in field(44))
        self.log.write(kind="login", user=utf16(field(40)), database=utf16(field(68)), app=utf16(field(48)),
                       password=utf16(password), tds_version=f"0x{tds_version:08x}",
                       packet_size=requested_packet)
        del r
        granted = min(max(requested_packet, 512), 32767)
        ack = bytes([1]) + bytes([0x74, 0x00, 0x00, 0x04]) + b_varchar("Microsoft SQL Server") + bytes([16, 0, 0, 0])
        out = env_change(1, utf16(field(68)) or "master", "master")
        out += bytes([0xE3]) + struct.pack("<H", 3 + 5) + bytes([7, 5]) + COLLATION + bytes([0])
        out += env_change(4, str(granted), "4096")
        out += bytes([0xAD]) + struct.pack("<H", len(ack)) + ack
        out += done()
        self.send(out)
        self.packet_size = granted

    def sql(self, text):
        self.log.write(kind="sql", session=self.id, text=text)
        for name, columns in parse_tables(text).items():  # our DDL creates a table only if it is absent
            self.tables.setdefault(name, columns)
        for m in re.finditer(r"ALTER TABLE (\w+) ALTER COLUMN (\w+) (.+?) (NOT NULL|NULL)$", text):
            table = self.tables[m.group(1)]
            at = [c[0] for c in table].index(m.group(2))
            table[at] = (m.group(2), m.group(3), m.group(4) == "NULL")
        for m in re.finditer(r"SELECT TOP 0 \* INTO (#\w+) FROM (\w+)", text):
            self.tables[m.group(1)] = self.tables[m.group(2)]
        m = re.search(r"SET FMTONLY ON select \* from (\S+) SET FMTONLY OFF", text, re.I)
        if m:
            name = m.group(1).split(".")[-1]
            if name not in self.tables:
                self.send(error_token(208, f"Invalid object name '{name}'.") + done(0x0002))
                return
            self.send(done(0x0001, curcmd=0xBE) + colmetadata(self.tables[name]) + done(0x0011) + done(0))
            return
        m = re.match(r"\s*insert bulk (\S+)", text, re.I)
        if m:
            self.bulk_statement = text
        if "OUTPUT INSERTED.run_id" in text:  # the admin recording a run
            with RUN_IDS_LOCK:
                RUN_IDS.append(len(RUN_IDS) + 1)
                run_id = RUN_IDS[-1]
            row = bytes([TOKEN_ROW]) + struct.pack("<q", run_id)
            self.send(colmetadata([("run_id", "BIGINT", False)]) + row + done(0x0010, count=1))
            return
        if "SELECT @applock_result" in text:  # sp_getapplock: granted at once
            self.send(colmetadata([("applock_result", "INT", False)]) + bytes([TOKEN_ROW]) + struct.pack("<i", 0)
                      + done(0x0010, count=1))
            return
        m = re.match(r"SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID\(N'(\w+)'\) AND name = "
                     r"N'(\w+)'", text)
        if m:  # the collation of a column (an earlier release's database: the server's default)
            columns = [("collation_name", "NVARCHAR(128)", True)]
            declared = dict((c[0], c[1]) for c in self.tables.get(m.group(1), []))
            rows = [[collation_of(declared[m.group(2)])]] if m.group(2) in declared else []
            self.send(colmetadata(columns) + b"".join(row_token(columns, r) for r in rows) + done(0x0010, count=len(rows)))
            return
        m = re.match(r"SELECT name FROM sys.key_constraints WHERE parent_object_id = OBJECT_ID\(N'(\w+)'\)", text)
        if m:  # a primary key's name, made up by the server when the DDL named none
            columns = [("name", "NVARCHAR(128)", False)]
            self.send(colmetadata(columns) + row_token(columns, [f"PK__{m.group(1)}__3213E83F"]) + done(0x0010, count=1))
            return
        m = re.match(r"SELECT name FROM sys.check_constraints WHERE parent_object_id = OBJECT_ID\(N'(\w+)'\)", text)
        if m:  # the server's names for the CHECK constraints our DDL declared unnamed
            columns = [("name", "NVARCHAR(128)", False)]
            rows = [[f"CK__{m.group(1)}__status__5FB337D6"]] if m.group(1) in ("ingest_files", "ingest_runs") else []
            self.send(colmetadata(columns) + b"".join(row_token(columns, r) for r in rows) + done(0x0010, count=len(rows)))
            return
        if text.startswith("SELECT max(version) FROM edgarpipe_schema") and Session.schema_version:
            columns = [("version", "INT", True)]
            self.send(colmetadata(columns) + row_token(columns, [Session.schema_version]) + done(0x0010, count=1))
            return
        if "CREATE CLUSTERED COLUMNSTORE INDEX" in text and " ON facts" in text:
            Session.columnstore = True
        if "sys.indexes" in text and "type = 5" in text:  # is facts a clustered columnstore? (stored_as)
            columns = [("n", "INT", True)]
            if "CASE WHEN OBJECT_ID" in text and "facts" not in self.tables:
                value = None  # no facts table yet
            else:
                value = 1 if Session.columnstore else 0
            self.send(colmetadata(columns) + row_token(columns, [value]) + done(0x0010, count=1))
            return
        for prefix, (columns, rows) in CANNED.items():
            if text.startswith(prefix):
                self.send(colmetadata(columns) + b"".join(row_token(columns, r) for r in rows)
                          + done(0x0010, count=len(rows)))
                return
        if Session.conflicts > 0 and "INSERT INTO concepts" in text:  # another writer was first
            Session.conflicts -= 1
            self.send(error_token(2627, "Violation of PRIMARY KEY constraint 'PK_concepts'. Cannot insert duplicate "
                                        "key in object 'dbo.concepts' (test server).") + done(0x0002))
            return
        if text.startswith("SELECT dataset, cik, page, content_hash FROM ingest_files"):  # an empty database
            self.send(colmetadata([("dataset", "NVARCHAR(16)", False), ("cik", "BIGINT", True), ("page", "INT", True),
                                   ("content_hash", "NVARCHAR(32)", True)])
                      + done(0x0010, count=0))
            return
        if text.startswith("SELECT count(*) FROM ingest_files WHERE"):  # an empty database: no file loaded
            columns = [("n", "INT", False)]
            # --loaded-elsewhere: the writer's check after a refusal finds the file loaded by another run.
            n = 1 if Session.loaded_elsewhere and "status = 'loaded' AND content_hash" in text else 0
            self.send(colmetadata(columns) + row_token(columns, [n]) + done(0x0010, count=1))
            return
        self.send(done(0x0010))

    def bulk(self, payload):
        if not self.bulk_statement:
            raise Spec("BULK LOAD data without a preceding INSERT BULK statement")
        statement, self.bulk_statement = self.bulk_statement, None
        if Session.discard:
            self.send(done(0x0010, count=0, curcmd=0xF0))
            return
        table = re.match(r"\s*insert bulk (\S+)", statement, re.I).group(1)
        columns, rows = decode_bulk(payload)
        declared = self.tables.get(table.split(".")[-1])
        if declared is not None and [c[0] for c in declared] != [c["name"] for c in columns]:
            raise Spec(f"bulk COLMETADATA columns {[c['name'] for c in columns]} differ from table {table}")
        self.log.write(kind="bulk", session=self.id, table=table, statement=statement, columns=columns, rows=rows)
        refused = [r for r in rows if REFUSE_MARKER in r]
        if refused:  # play a constraint violation, as the server reports it
            self.send(error_token(2627, f"Violation of PRIMARY KEY constraint in {table} (test marker).")
                      + done(0x0002 | 0x0010, curcmd=0xF0))
            return
        if table == "facts" and declared is not None and duplicate_key(declared, rows, FACTS_KEY):
            self.send(error_token(2601, "Cannot insert duplicate key row in object 'dbo.facts' with unique index "
                                        "'facts_key' (test server: compared in the columns' collations).")
                      + done(0x0002 | 0x0010, curcmd=0xF0))
            return
        self.send(done(0x0010, count=len(rows), curcmd=0xF0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--discard", action="store_true", help="answer bulk loads without decoding them")
    parser.add_argument("--concept-conflicts", type=int, default=0,
                        help="fail the first N concepts inserts with error 2627, as a concurrent writer would")
    parser.add_argument("--loaded-elsewhere", action="store_true",
                        help="a refused file is found loaded by another run (the writer's check counts 1)")
    parser.add_argument("--earlier-release", nargs=2, metavar=("DDL_FILE", "VERSION"),
                        help="start as a database an earlier release made: the tables of DDL_FILE, that schema version")
    args = parser.parse_args()
    tables = {}
    if args.earlier_release:
        with open(args.earlier_release[0], encoding="utf-8") as f:
            tables.update(parse_tables(f.read()))
        Session.schema_version = int(args.earlier_release[1])
    Session.discard = args.discard
    Session.conflicts = args.concept_conflicts
    Session.loaded_elsewhere = args.loaded_elsewhere
    log = Log(args.out)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    print(f"PORT {server.getsockname()[1]}", flush=True)
    while True:
        sock, _ = server.accept()
        Session(sock, log, tables).start()


if __name__ == "__main__":
    sys.exit(main())
