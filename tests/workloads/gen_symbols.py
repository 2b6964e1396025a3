#!/usr/bin/env python3
"""Writes an x86-64 ELF relocatable object with COUNT global functions of
4 bytes each (ret and padding) and long names: with COUNT = 1,000,000 its
symbol and string tables take about 100 MB. Linked into a program, it makes
the program's symbol table as big as a large C++ binary's, for the test
that memscope-top shows frames on time however long symbols take to read.

usage: gen_symbols.py OUT.o COUNT
"""
import struct
import sys


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    size = 4
    text = b"\xc3\xcc\xcc\xcc" * count
    names = bytearray(b"\0")
    symtab = bytearray(24)  # the null symbol
    for i in range(count):
        name_at = len(names)
        names += b"generated_symbol_%07d_named_as_long_as_a_mangled_cxx_template_function\0" % i
        # st_name, st_info (GLOBAL << 4 | FUNC), st_other, st_shndx (.text),
        # st_value, st_size
        symtab += struct.pack("<IBBHQQ", name_at, (1 << 4) | 2, 0, 1, i * size, size)
    shstrtab = b"\0.text\0.symtab\0.strtab\0.shstrtab\0.note.GNU-stack\0"
    parts = [text, bytes(symtab), bytes(names), shstrtab]
    offsets, at = [], 64
    for part in parts:
        at = (at + 7) & ~7
        offsets.append(at)
        at += len(part)
    shoff = (at + 7) & ~7

    def section(name, kind, flags, offset, length, link, info, align, entsize):
        return struct.pack("<IIQQQQIIQQ", name, kind, flags, 0, offset, length, link, info,
                           align, entsize)

    headers = section(0, 0, 0, 0, 0, 0, 0, 0, 0)
    headers += section(1, 1, 6, offsets[0], len(text), 0, 0, 16, 0)  # .text: AX
    # .symtab: link to .strtab, info = first global (after the null symbol)
    headers += section(7, 2, 0, offsets[1], len(symtab), 3, 1, 8, 24)
    headers += section(15, 3, 0, offsets[2], len(names), 0, 0, 1, 0)
    headers += section(23, 3, 0, offsets[3], len(shstrtab), 0, 0, 1, 0)
    headers += section(33, 1, 0, shoff, 0, 0, 0, 1, 0)  # .note.GNU-stack: no exec stack
    elf = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
    # ET_REL, x86-64, version 1, no entry/phdrs, shoff, flags, sizes, 6 sections,
    # section names in section 4
    elf += struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 6, 4)
    with open(out, "wb") as f:
        f.write(elf)
        for offset, part in zip(offsets, parts):
            f.seek(offset)
            f.write(part)
        f.seek(shoff)
        f.write(headers)


if __name__ == "__main__":
    main()
