/*
 * Call frame rules from .eh_frame, for the hook's unwinder: see cfi.h.
 *
 * Finding a rule. dl_iterate_phdr gives the loaded object that holds the
 * address and its PT_GNU_EH_FRAME segment (.eh_frame_hdr): a table of
 * (function start, FDE) sorted by start, searched by halves. The FDE and
 * its CIE are parsed, and the CIE's then the FDE's call frame instructions
 * run up to the address (DWARF 5, section 6.4; the .eh_frame encodings are
 * the LSB's). Only the CFA and the rules of rbp and of the return address
 * are kept: that is all x86-64 code compiled with frame information needs
 * for a backtrace, and libunwind's fast trace (src/x86_64/Gtrace.c) keeps
 * the same three. Anything else (a CFA by expression, as in PLT entries and
 * functions that realign their stack; a signal frame; a return address
 * not at CFA - 8) is MS_CFI_OTHER, for libunwind.
 *
 * The unwind information comes from the objects the program loaded, which
 * the program trusts as code; still, every read stays inside the loaded
 * segment that holds it and inside its own record's length, every rule
 * that cannot be followed is OTHER, and tests/fuzz/cfi_fuzz.c feeds the
 * parser arbitrary bytes.
 *
 * The cache (cfi.h). A rule is found once per code address. Readers take
 * no lock; one writer at a time (a try-lock: a thread that finds it taken
 * just does not cache). A writer clears the key before it changes the
 * rule, so a reader that sees the same key before and after its read of
 * the rule has the rule of that key.
 */
#define _GNU_SOURCE
#include "cfi.h"

#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

#include <memscope/atomic.h>

/* DWARF register numbers on x86-64 (System V psABI, figure 3.36). */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/* .eh_frame pointer encodings (LSB, "DWARF Exception Header Encoding"). */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

/* How a frame found its rbp or return address. */
enum how { HOW_UNSET, HOW_SAME, HOW_OFFSET, HOW_UNDEFINED, HOW_OTHER };

struct state {
	uint64_t cfa_reg;
	int64_t cfa_off;
	int cfa_expr;
	enum how rbp, ra;
	int64_t rbp_off, ra_off;
};

/* remember_state nesting kept; deeper is OTHER. */
#define SAVED_STATES 8

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	int has_aug_data; /* 'z': FDEs carry an augmentation length */
	int signal;       /* 'S' */
	const uint8_t *insns, *end;
};

/* ---- reading, each within [*p, end) ---------------------------------- */

static int read_u8(const uint8_t **p, const uint8_t *end, uint8_t *v)
{
	if (end - *p < 1)
		return -1;
	*v = *(*p)++;
	return 0;
}

static int read_fixed(const uint8_t **p, const uint8_t *end, void *v, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -1;
	memcpy(v, *p, n);
	*p += n;
	return 0;
}

/* A LEB128 number, sign-extended from its last byte if is_signed. */
static int read_leb(const uint8_t **p, const uint8_t *end, int is_signed, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (*p >= end || shift > 63)
			return -1;
		b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (is_signed && shift < 64 && (b & 0x40))
		r |= ~(uint64_t)0 << shift;
	*v = r;
	return 0;
}

static int read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	return read_leb(p, end, 0, v);
}

static int read_sleb(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t r;

	if (read_leb(p, end, 1, &r) != 0)
		return -1;
	*v = (int64_t)r;
	return 0;
}

/* A little-endian integer of n (1, 2, 4 or 8) bytes, sign-extended if
 * is_signed. */
static int read_int(const uint8_t **p, const uint8_t *end, unsigned n, int is_signed,
		    uint64_t *v)
{
	uint64_t r = 0;

	if (read_fixed(p, end, &r, n) != 0) /* x86-64 is little-endian */
		return -1;
	if (is_signed && n < 8 && (r >> (8 * n - 1)) & 1)
		r |= ~(uint64_t)0 << (8 * n);
	*v = r;
	return 0;
}

/* A pointer in encoding enc; datarel is the base of PE_DATAREL (0: not
 * allowed here). An indirect pointer is read but not followed (only the
 * personality routine's is, which is skipped). */
static int read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t datarel,
			uint64_t *v)
{
	uint64_t base, r = 0;
	const uint8_t *at = *p;
	int err;

	if (enc == PE_OMIT)
		return -1;
	switch (enc & 0x70) {
	case PE_ABSPTR:
		base = 0;
		break;
	case PE_PCREL:
		base = (uint64_t)(uintptr_t)at;
		break;
	case PE_DATAREL:
		if (datarel == 0)
			return -1;
		base = datarel;
		break;
	default:
		return -1;
	}
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		err = read_int(p, end, 8, 0, &r);
		break;
	case PE_UDATA2:
	case PE_SDATA2:
		err = read_int(p, end, 2, enc & 0x08, &r);
		break;
	case PE_UDATA4:
	case PE_SDATA4:
		err = read_int(p, end, 4, enc & 0x08, &r);
		break;
	case PE_ULEB128:
		err = read_uleb(p, end, &r);
		break;
	case PE_SLEB128: {
		int64_t sv;

		err = read_sleb(p, end, &sv);
		r = (uint64_t)sv;
		break;
	}
	default:
		return -1;
	}
	if (err != 0)
		return -1;
	*v = r + base;
	return 0;
}

/* The bytes the parser may read: the loaded segment that holds the unwind
 * information (every offset in it is checked against these). */
struct span {
	uintptr_t lo, hi;
};

static int inside(const struct span *sp, const uint8_t *at, uint64_t n)
{
	uintptr_t a = (uintptr_t)at;

	return a >= sp->lo && a <= sp->hi && n <= sp->hi - a;
}

/* A record's body and end: a 32-bit length (the 64-bit form is not made
 * for x86-64 .eh_frame and is refused), all of it inside sp. */
static int record(const struct span *sp, const uint8_t *at, const uint8_t **body,
		  const uint8_t **end)
{
	uint32_t len;

	if (!inside(sp, at, 4))
		return -1;
	memcpy(&len, at, 4);
	if (len == 0 || len == 0xffffffffu || !inside(sp, at + 4, len))
		return -1;
	*body = at + 4;
	*end = at + 4 + len;
	return 0;
}

static int parse_cie(const struct span *sp, const uint8_t *at, struct cie *c)
{
	const uint8_t *p, *end, *aug;
	uint32_t id;
	uint8_t version, ra8;
	uint64_t ra_reg;

	memset(c, 0, sizeof(*c));
	c->fde_enc = PE_ABSPTR;
	if (record(sp, at, &p, &end) != 0 || read_fixed(&p, end, &id, 4) != 0 || id != 0 ||
	    read_u8(&p, end, &version) != 0 || (version != 1 && version != 3))
		return -1;
	aug = p;
	while (p < end && *p != '\0')
		p++;
	if (p >= end)
		return -1;
	p++;
	if (aug[0] != '\0' && aug[0] != 'z')
		return -1; /* the old "eh" form, or unknown */
	if (read_uleb(&p, end, &c->code_align) != 0 || read_sleb(&p, end, &c->data_align) != 0)
		return -1;
	if (version == 1) {
		if (read_u8(&p, end, &ra8) != 0)
			return -1;
		ra_reg = ra8;
	} else if (read_uleb(&p, end, &ra_reg) != 0) {
		return -1;
	}
	if (ra_reg != REG_RA)
		return -1;
	if (aug[0] == 'z') {
		uint64_t len;
		const uint8_t *data_end;

		if (read_uleb(&p, end, &len) != 0 || len > (uint64_t)(end - p))
			return -1;
		data_end = p + len;
		c->has_aug_data = 1;
		for (const uint8_t *a = aug + 1; *a != '\0'; a++) {
			uint8_t enc;
			uint64_t ignored;

			switch (*a) {
			case 'R':
				if (read_u8(&p, data_end, &c->fde_enc) != 0)
					return -1;
				break;
			case 'L':
				if (read_u8(&p, data_end, &enc) != 0)
					return -1;
				break;
			case 'P':
				if (read_u8(&p, data_end, &enc) != 0 ||
				    read_encoded(&p, data_end, enc & (uint8_t)~PE_INDIRECT, 0,
						 &ignored) != 0)
					return -1;
				break;
			case 'S':
				c->signal = 1;
				break;
			default:
				return -1;
			}
		}
		p = data_end;
	}
	c->insns = p;
	c->end = end;
	return 0;
}

/* ---- call frame instructions ----------------------------------------- */

/* An operand times the data alignment factor, wrapping as two's
 * complement: a huge product is nonsense that the final checks refuse, not
 * undefined behaviour. */
static int64_t factored(uint64_t v, int64_t factor)
{
	return (int64_t)(v * (uint64_t)factor);
}

static void set_offset(struct state *s, uint64_t reg, int64_t off)
{
	if (reg == REG_RBP) {
		s->rbp = HOW_OFFSET;
		s->rbp_off = off;
	} else if (reg == REG_RA) {
		s->ra = HOW_OFFSET;
		s->ra_off = off;
	}
}

static void set_how(struct state *s, uint64_t reg, enum how how)
{
	if (reg == REG_RBP)
		s->rbp = how;
	else if (reg == REG_RA)
		s->ra = how;
}

static void restore(struct state *s, const struct state *initial, uint64_t reg)
{
	if (reg == REG_RBP) {
		s->rbp = initial->rbp;
		s->rbp_off = initial->rbp_off;
	} else if (reg == REG_RA) {
		s->ra = initial->ra;
		s->ra_off = initial->ra_off;
	}
}

/* Runs instructions [p, end) from location loc up to pc (the CIE's with pc
 * at the top of the range: they never advance). initial is the state after
 * the CIE's, for DW_CFA_restore. Returns 0, or -1 for what it cannot run. */
static int run(const uint8_t *p, const uint8_t *end, const struct cie *c, uint64_t loc,
	       uint64_t pc, struct state *s, const struct state *initial)
{
	struct state saved[SAVED_STATES];
	unsigned nsaved = 0;

	while (p < end) {
		uint8_t op = *p++;
		uint64_t reg, u, delta = 0;
		int64_t sv;

		switch (op & 0xc0) {
		case 0x40: /* DW_CFA_advance_loc */
			delta = op & 0x3f;
			goto advance;
		case 0x80: /* DW_CFA_offset */
			if (read_uleb(&p, end, &u) != 0)
				return -1;
			set_offset(s, op & 0x3f, factored(u, c->data_align));
			continue;
		case 0xc0: /* DW_CFA_restore */
			restore(s, initial, op & 0x3f);
			continue;
		}
		switch (op) {
		case 0x00: /* DW_CFA_nop */
			break;
		case 0x01: /* DW_CFA_set_loc */
			if (read_encoded(&p, end, c->fde_enc, 0, &loc) != 0)
				return -1;
			if (loc > pc)
				return 0;
			break;
		case 0x02: /* DW_CFA_advance_loc1, 2 and 4: a 1, 2 or 4-byte delta */
		case 0x03:
		case 0x04:
			if (read_int(&p, end, 1u << (op - 2), 0, &delta) != 0)
				return -1;
			goto advance;
		case 0x05: /* DW_CFA_offset_extended */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0)
				return -1;
			set_offset(s, reg, factored(u, c->data_align));
			break;
		case 0x06: /* DW_CFA_restore_extended */
			if (read_uleb(&p, end, &reg) != 0)
				return -1;
			restore(s, initial, reg);
			break;
		case 0x07: /* DW_CFA_undefined */
			if (read_uleb(&p, end, &reg) != 0)
				return -1;
			set_how(s, reg, reg == REG_RA ? HOW_UNDEFINED : HOW_OTHER);
			break;
		case 0x08: /* DW_CFA_same_value */
			if (read_uleb(&p, end, &reg) != 0)
				return -1;
			set_how(s, reg, reg == REG_RBP ? HOW_SAME : HOW_OTHER);
			break;
		case 0x09: /* DW_CFA_register */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0)
				return -1;
			set_how(s, reg, HOW_OTHER);
			break;
		case 0x0a: /* DW_CFA_remember_state */
			if (nsaved == SAVED_STATES)
				return -1;
			saved[nsaved++] = *s;
			break;
		case 0x0b: /* DW_CFA_restore_state */
			if (nsaved == 0)
				return -1;
			*s = saved[--nsaved];
			break;
		case 0x0c: /* DW_CFA_def_cfa */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0)
				return -1;
			s->cfa_reg = reg;
			s->cfa_off = (int64_t)u;
			s->cfa_expr = 0;
			break;
		case 0x0d: /* DW_CFA_def_cfa_register */
			if (read_uleb(&p, end, &reg) != 0)
				return -1;
			s->cfa_reg = reg;
			break;
		case 0x0e: /* DW_CFA_def_cfa_offset */
			if (read_uleb(&p, end, &u) != 0)
				return -1;
			s->cfa_off = (int64_t)u;
			break;
		case 0x0f: /* DW_CFA_def_cfa_expression */
			if (read_uleb(&p, end, &u) != 0 || u > (uint64_t)(end - p))
				return -1;
			p += u;
			s->cfa_expr = 1;
			break;
		case 0x10: /* DW_CFA_expression */
		case 0x16: /* DW_CFA_val_expression */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0 ||
			    u > (uint64_t)(end - p))
				return -1;
			p += u;
			set_how(s, reg, HOW_OTHER);
			break;
		case 0x11: /* DW_CFA_offset_extended_sf */
			if (read_uleb(&p, end, &reg) != 0 || read_sleb(&p, end, &sv) != 0)
				return -1;
			set_offset(s, reg, factored((uint64_t)sv, c->data_align));
			break;
		case 0x12: /* DW_CFA_def_cfa_sf */
			if (read_uleb(&p, end, &reg) != 0 || read_sleb(&p, end, &sv) != 0)
				return -1;
			s->cfa_reg = reg;
			s->cfa_off = factored((uint64_t)sv, c->data_align);
			s->cfa_expr = 0;
			break;
		case 0x13: /* DW_CFA_def_cfa_offset_sf */
			if (read_sleb(&p, end, &sv) != 0)
				return -1;
			s->cfa_off = factored((uint64_t)sv, c->data_align);
			break;
		case 0x14: /* DW_CFA_val_offset */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0)
				return -1;
			set_how(s, reg, HOW_OTHER);
			break;
		case 0x15: /* DW_CFA_val_offset_sf */
			if (read_uleb(&p, end, &reg) != 0 || read_sleb(&p, end, &sv) != 0)
				return -1;
			set_how(s, reg, HOW_OTHER);
			break;
		case 0x2e: /* DW_CFA_GNU_args_size */
			if (read_uleb(&p, end, &u) != 0)
				return -1;
			break;
		case 0x2f: /* DW_CFA_GNU_negative_offset_extended */
			if (read_uleb(&p, end, &reg) != 0 || read_uleb(&p, end, &u) != 0)
				return -1;
			set_offset(s, reg, factored(-u, c->data_align));
			break;
		default:
			return -1;
		}
		continue;
	advance:
		loc += delta * c->code_align;
		if (loc > pc)
			return 0;
	}
	return 0;
}

/* ---- finding the FDE --------------------------------------------------- */

struct find {
	uint64_t pc;
	const uint8_t *hdr; /* the object's .eh_frame_hdr; NULL: none */
	struct span eh;     /* the loaded segment that holds it */
	uint64_t seg_hi;    /* the end of the loaded segment holding pc */
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find *f = data;
	const ElfW(Phdr) *eh = NULL;
	int holds_pc = 0;

	(void)size;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = (uint64_t)info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && f->pc >= lo && f->pc - lo < ph->p_memsz) {
			holds_pc = 1;
			f->seg_hi = lo + ph->p_memsz;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			eh = ph;
		}
	}
	if (!holds_pc)
		return 0;
	f->found = 1;
	if (eh == NULL)
		return 1;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && eh->p_vaddr >= ph->p_vaddr &&
		    eh->p_vaddr - ph->p_vaddr < ph->p_filesz) {
			f->hdr = (const uint8_t *)(uintptr_t)(info->dlpi_addr + eh->p_vaddr);
			f->eh.lo = (uintptr_t)(info->dlpi_addr + ph->p_vaddr);
			f->eh.hi = f->eh.lo + ph->p_filesz;
		}
	}
	return 1;
}

static int32_t table_word(const uint8_t *table, uint64_t i)
{
	int32_t v;

	memcpy(&v, table + 4 * i, 4);
	return v;
}

/* The FDE of pc through the header's search table, or NULL. */
static const uint8_t *find_fde(const struct span *sp, const uint8_t *hdr, uint64_t pc)
{
	/* Header: version, three encodings, then the pointer to .eh_frame,
	 * the count and the table; the table is read by halves only in the
	 * one encoding every linker writes (4-byte offsets from the header). */
	const uint8_t *p = hdr + 4, *end;
	uint64_t ignored, count, lo = 0, hi;
	const uint8_t *table;
	uint64_t base = (uint64_t)(uintptr_t)hdr;

	if (!inside(sp, hdr, 4) || hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
		return NULL;
	end = (const uint8_t *)sp->hi;
	if (read_encoded(&p, end, hdr[1], base, &ignored) != 0 ||
	    read_encoded(&p, end, hdr[2], base, &count) != 0 || count == 0 ||
	    count > (uint64_t)(end - p) / 8)
		return NULL;
	table = p;
	if (pc < base + (uint64_t)(int64_t)table_word(table, 0))
		return NULL;
	hi = count;
	while (hi - lo > 1) { /* start(lo) <= pc < start(hi) */
		uint64_t mid = lo + (hi - lo) / 2;

		if (base + (uint64_t)(int64_t)table_word(table, 2 * mid) <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return (const uint8_t *)((uintptr_t)hdr + (uintptr_t)(intptr_t)table_word(table, 2 * lo + 1));
}

static ms_cfi_rule pack(enum ms_cfi_kind kind, int cfa_rbp, int rbp_saved, int64_t cfa_off,
		       int64_t rbp_off)
{
	return (uint64_t)kind | (uint64_t)(cfa_rbp != 0) << 2 | (uint64_t)(rbp_saved != 0) << 3 |
	       (uint64_t)(uint32_t)(int32_t)cfa_off << 4 |
	       ((uint64_t)rbp_off & 0xfffffffull) << 36;
}

/* x86-64 Linux's signal return: mov $15 (rt_sigreturn), %rax; syscall. */
static const uint8_t sigreturn_code[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

/* The instruction after pc is the signal return: a frame a signal made,
 * whatever the unwind entry that covers pc says (libunwind recognises
 * signal frames by this same code). */
static int before_sigreturn(const struct find *f)
{
	return f->pc + 1 + sizeof(sigreturn_code) <= f->seg_hi &&
	       memcmp((const void *)(uintptr_t)(f->pc + 1), sigreturn_code,
		      sizeof(sigreturn_code)) == 0;
}

ms_cfi_rule ms_cfi_parse(const uint8_t *hdr, uintptr_t lo, uintptr_t hi, uint64_t pc)
{
	const struct span sp = { lo, hi };
	const uint8_t *fde, *p, *end, *cie_at;
	struct cie c;
	struct state s = { 0 }, initial;
	uint32_t cie_off;
	uint64_t begin, range;
	const ms_cfi_rule other = pack(MS_CFI_OTHER, 0, 0, 0, 0);

	if ((fde = find_fde(&sp, hdr, pc)) == NULL)
		return other;
	if (record(&sp, fde, &p, &end) != 0 || read_fixed(&p, end, &cie_off, 4) != 0 ||
	    cie_off == 0 || (uintptr_t)p - 4 - lo < cie_off)
		return other;
	cie_at = p - 4 - cie_off;
	if (parse_cie(&sp, cie_at, &c) != 0 || c.signal)
		return other;
	if (read_encoded(&p, end, c.fde_enc, 0, &begin) != 0 ||
	    read_encoded(&p, end, c.fde_enc & 0x0f, 0, &range) != 0 || pc < begin ||
	    pc - begin >= range)
		return other;
	if (c.has_aug_data) {
		uint64_t len;

		if (read_uleb(&p, end, &len) != 0 || len > (uint64_t)(end - p))
			return other;
		p += len;
	}
	s.rbp = HOW_SAME;
	s.ra = HOW_UNSET;
	if (run(c.insns, c.end, &c, begin, UINT64_MAX, &s, &s) != 0)
		return other;
	initial = s;
	if (run(p, end, &c, begin, pc, &s, &initial) != 0)
		return other;
	if (s.ra == HOW_UNDEFINED)
		return pack(MS_CFI_END, 0, 0, 0, 0);
	if (s.cfa_expr || (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.ra != HOW_OFFSET ||
	    s.ra_off != -8 || (s.rbp != HOW_SAME && s.rbp != HOW_OFFSET) || s.cfa_off < 0 ||
	    s.cfa_off > INT32_MAX || s.rbp_off < -(1 << 27) || s.rbp_off >= (1 << 27))
		return other;
	return pack(MS_CFI_STANDARD, s.cfa_reg == REG_RBP, s.rbp == HOW_OFFSET, s.cfa_off,
		    s.rbp == HOW_OFFSET ? s.rbp_off : 0);
}

/* The rule at pc, uncached. */
static ms_cfi_rule compute(uint64_t pc)
{
	struct find f = { .pc = pc };

	dl_iterate_phdr(find_object, &f);
	if (!f.found || f.hdr == NULL || before_sigreturn(&f))
		return pack(MS_CFI_OTHER, 0, 0, 0, 0);
	return ms_cfi_parse(f.hdr, f.eh.lo, f.eh.hi, pc);
}

/* ---- the cache ------------------------------------------------------- */

struct ms_cfi_entry ms_cfi_cache[1u << MS_CFI_CACHE_BITS];
uint32_t ms_cfi_generation_now;
static uint32_t fill_lock;

/* Writes an entry for readers that may be reading it (see ms_cfi_find). */
static void put_entry(struct ms_cfi_entry *e, uint64_t key, ms_cfi_rule rule)
{
	__atomic_store_n(&e->key, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->rule, rule, __ATOMIC_RELAXED);
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
}

ms_cfi_rule ms_cfi_fill(uint64_t pc, uint64_t key)
{
	struct ms_cfi_entry *set = ms_cfi_set_of(pc);
	ms_cfi_rule rule = compute(pc);

	if (pc >> MS_CFI_KEY_PC_BITS != 0 || !ms_atomic_cas_acquire_u32(&fill_lock, 0, 1))
		return rule;
	/* The newest first; the one it displaces goes second, the second
	 * goes. Only fills write entries, under fill_lock. */
	if (__atomic_load_n(&set[0].key, __ATOMIC_RELAXED) != 0)
		put_entry(&set[1], __atomic_load_n(&set[0].key, __ATOMIC_RELAXED),
			  __atomic_load_n(&set[0].rule, __ATOMIC_RELAXED));
	put_entry(&set[0], key, rule);
	ms_atomic_store_release_u32(&fill_lock, 0);
	return rule;
}

void ms_cfi_forget(void)
{
	uint32_t g = __atomic_add_fetch(&ms_cfi_generation_now, 1, __ATOMIC_ACQ_REL);

	/* The key keeps 16 bits of the generation: once they come round,
	 * a key of the same bits, 65536 generations old, must not match. */
	if ((g & MS_CFI_KEY_GEN_MASK) == 0) {
		while (!ms_atomic_cas_acquire_u32(&fill_lock, 0, 1))
			ms_cpu_relax();
		for (uint32_t i = 0; i < (1u << MS_CFI_CACHE_BITS); i++)
			__atomic_store_n(&ms_cfi_cache[i].key, 0, __ATOMIC_RELAXED);
		ms_atomic_store_release_u32(&fill_lock, 0);
	}
}
