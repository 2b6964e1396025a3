#!/usr/bin/env python3
"""cfi_seeds.py LIB OUTDIR: seeds for cfi_fuzz.c from a real shared library:
the loaded segment that holds its .eh_frame_hdr, with the offset of the
header and, one seed per function in the header's table, a code address
inside that function."""
import os
import struct
import sys

PT_LOAD, PT_GNU_EH_FRAME = 1, 0x6474E550


def main():
    lib, out = sys.argv[1], sys.argv[2]
    data = open(lib, "rb").read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    phdrs = [struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize) for i in range(phnum)]
    eh = next(p for p in phdrs if p[0] == PT_GNU_EH_FRAME)
    seg = next(p for p in phdrs if p[0] == PT_LOAD and p[3] <= eh[3] < p[3] + p[5])
    body = data[seg[2]:seg[2] + seg[5]]
    hdr_off = eh[3] - seg[3]
    count, = struct.unpack_from("<I", body, hdr_off + 8)  # udata4 count, as linkers write it
    os.makedirs(out, exist_ok=True)
    for i in range(min(count, 16)):
        start, = struct.unpack_from("<i", body, hdr_off + 12 + 8 * i)
        pc_off = hdr_off + start + 4
        with open(os.path.join(out, "seed%d" % i), "wb") as f:
            f.write(struct.pack("<qI", pc_off, hdr_off) + body)


main()
