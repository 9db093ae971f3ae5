// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <capstone/capstone.h>

#include "tls.skel.h"
#include "tls_go.h"

/* The functions probed, by symbol (stable since Go 1.17's register ABI). */
enum { F_READ, F_WRITE, F_HANDSHAKE, F_FD_READ, F_FD_WRITE, F_WAIT, N_FUNCS };
static const char *const func_names[N_FUNCS] = {
	"crypto/tls.(*Conn).Read",	   "crypto/tls.(*Conn).Write",
	"crypto/tls.(*Conn).serverHandshake", "internal/poll.(*FD).Read",
	"internal/poll.(*FD).Write",	   "internal/poll.(*pollDesc).wait",
};

struct func {
	GElf_Addr addr;
	GElf_Xword size;
	GElf_Off off; /* in the file: what a uprobe is placed by */
	unsigned char *code; /* read from the file, not from a mapping of it */
};

struct go_exe {
	int fd;
	Elf *elf;
	struct func f[N_FUNCS];
	char version[32];
};

static bool section(Elf *elf, const char *name, GElf_Shdr *out, Elf_Scn **scn_out)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, out))
			continue;
		n = elf_strptr(elf, shstrndx, out->sh_name);
		if (n && !strcmp(n, name)) {
			if (scn_out)
				*scn_out = scn;
			return true;
		}
	}
	return false;
}

static int exe_open(struct go_exe *x, const char *path)
{
	memset(x, 0, sizeof(*x));
	elf_version(EV_CURRENT);
	x->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0)
		return -errno;
	x->elf = elf_begin(x->fd, ELF_C_READ_MMAP, NULL);
	if (!x->elf) {
		close(x->fd);
		return -EINVAL;
	}
	return 0;
}

static void exe_close(struct go_exe *x)
{
	int i;

	for (i = 0; i < N_FUNCS; i++)
		free(x->f[i].code);
	elf_end(x->elf);
	close(x->fd);
}

bool tls_go_is_go(const char *path)
{
	struct go_exe x;
	GElf_Shdr sh;
	bool yes;

	if (exe_open(&x, path))
		return false;
	yes = section(x.elf, ".go.buildinfo", &sh, NULL);
	exe_close(&x);
	return yes;
}

/*
 * The Go version from .go.buildinfo: since Go 1.18 (flag bit 2) the version
 * string is inline after the 32-byte header, length as a uvarint. Older Go
 * stores pointers there, and passes arguments on the stack before 1.17:
 * not followed, so "" is fine for those.
 */
static void go_version(struct go_exe *x)
{
	static const char magic[] = "\xff Go buildinf:";
	Elf_Scn *scn;
	GElf_Shdr sh;
	Elf_Data *d;
	const unsigned char *p;
	size_t len;

	if (!section(x->elf, ".go.buildinfo", &sh, &scn) || !(d = elf_getdata(scn, NULL)) ||
	    d->d_size < 34)
		return;
	p = d->d_buf;
	if (memcmp(p, magic, 14) || !(p[15] & 2))
		return;
	len = p[32];
	if (len & 0x80 || len >= sizeof(x->version) || 33 + len > d->d_size)
		return;
	memcpy(x->version, p + 33, len);
	x->version[len] = '\0';
}

/*
 * A function's code, read from the file. Not from libelf's mapping of it:
 * a uprobe on the file (another connstate's, or the detaching child's of
 * one that just exited, or ours) puts its breakpoint into every mapping
 * of the file that may execute, ours too, and a call or RET turned into
 * int3 would not be found (seen: "cannot find the park points").
 */
static void func_read(struct go_exe *x, struct func *f, GElf_Addr addr, GElf_Off off,
		      GElf_Xword size)
{
	unsigned char *code = malloc(size ? size : 1);

	if (!code || pread(x->fd, code, size, (off_t)off) != (ssize_t)size) {
		free(code); /* not found, as a missing symbol is */
		return;
	}
	free(f->code);
	f->code = code;
	f->addr = addr;
	f->size = size;
	f->off = off;
}

/* Fills x->f from .symtab; returns the names not found in missing. */
static void find_funcs(struct go_exe *x, char *missing, size_t mlen)
{
	GElf_Shdr sh, tsh;
	Elf_Scn *scn = NULL, *text;
	Elf_Data *d, *td;
	size_t i, j, n;

	if (section(x->elf, ".symtab", &sh, &scn) && (d = elf_getdata(scn, NULL)) &&
	    section(x->elf, ".text", &tsh, &text) && (td = elf_getdata(text, NULL))) {
		n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(x->elf, sh.sh_link, sym.st_name);
			for (j = 0; name && j < N_FUNCS; j++) {
				if (strcmp(name, func_names[j]) || sym.st_value < tsh.sh_addr ||
				    sym.st_value + sym.st_size > tsh.sh_addr + td->d_size)
					continue;
				func_read(x, &x->f[j], sym.st_value,
					  sym.st_value - tsh.sh_addr + tsh.sh_offset, sym.st_size);
			}
		}
	}
	missing[0] = '\0';
	for (j = 0; j < N_FUNCS; j++)
		if (!x->f[j].size)
			snprintf(missing + strlen(missing), mlen - strlen(missing), "%s%s",
				 missing[0] ? ", " : "", func_names[j]);
}

/* Where in a function the probes go: its RETs, or its calls of "call"
 * (each call instruction and the one after it). */
struct spots {
	GElf_Off off[64];
	int n;
	bool whole; /* the whole function decoded: no offset mid-instruction */
};

static void find_spots(const struct func *f, GElf_Addr call, struct spots *s)
{
	cs_insn *insn;
	csh h;
	size_t n, i, done = 0;

	s->n = 0;
	s->whole = false;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return;
	n = cs_disasm(h, f->code, f->size, f->addr, 0, &insn);
	for (i = 0; i < n; i++) {
		const cs_insn *in = &insn[i];
		GElf_Off at = f->off + (in->address - f->addr);

		done += in->size;
		if (!call && in->id == X86_INS_RET && s->n < 64) {
			s->off[s->n++] = at;
		} else if (call && in->id == X86_INS_CALL && in->size == 5 && in->bytes[0] == 0xe8 &&
			   s->n < 63) {
			int32_t rel;

			memcpy(&rel, in->bytes + 1, 4);
			if (in->address + 5 + rel == call) {
				s->off[s->n++] = at;
				s->off[s->n++] = at + 5;
			}
		}
	}
	/* Go puts no data in its text: a function that does not decode to its
	 * last byte is not what we think it is; probe none of it */
	s->whole = n && done == f->size;
	if (n)
		cs_free(insn, n);
	cs_close(&h);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int tls_go_attach(struct tls_bpf *skel, const char *path, const char *shown, pid_t pid,
		  bool verbose, struct bpf_link **links, int max)
{
	struct {
		int func;
		struct bpf_program *prog;
		int call; /* -1: at RETs (or entry if prog is an entry); else calls of f[call] */
		bool entry;
	} plan[] = {
		{ F_READ, skel->progs.go_read_enter, -1, true },
		{ F_READ, skel->progs.go_read_ret, -1, false },
		{ F_WRITE, skel->progs.go_write_enter, -1, true },
		{ F_WRITE, skel->progs.go_write_ret, -1, false },
		{ F_HANDSHAKE, skel->progs.go_hs_enter, -1, true },
		{ F_HANDSHAKE, skel->progs.go_hs_ret, -1, false },
		{ F_FD_READ, NULL, F_WAIT, false },
		{ F_FD_WRITE, NULL, F_WAIT, false },
	};
	char missing[512];
	libbpf_print_fn_t old = NULL;
	struct go_exe x;
	struct spots s;
	size_t i;
	int j, made = 0, err;

	err = exe_open(&x, path);
	if (err) {
		fprintf(stderr, "connstate: warning: cannot read %s (pid %d): %s; its TLS stays opaque\n",
			shown, pid, strerror(-err));
		return 0;
	}
	go_version(&x);
	if (!x.version[0]) {
		fprintf(stderr,
			"connstate: warning: %s (pid %d) is a Go program older than Go 1.18 (no version in .go.buildinfo): its crypto/tls connections cannot be followed\n",
			shown, pid);
		exe_close(&x);
		return 0;
	}
	find_funcs(&x, missing, sizeof(missing));
	/* symbols, but no TLS server handshake: the linker dropped it, so the
	 * program serves no TLS (net/http links crypto/tls's Read and Write
	 * for its client side): nothing to follow, nothing to warn about */
	if (missing[0] && x.f[F_FD_READ].size && !x.f[F_HANDSHAKE].size) {
		if (verbose)
			fprintf(stderr,
				"connstate: %s (pid %d, %s) has no TLS server code (no %s): no TLS to follow\n",
				shown, pid, x.version, func_names[F_HANDSHAKE]);
		exe_close(&x);
		return 0;
	}
	if (missing[0]) {
		/* every Go HTTP server links crypto/tls: none of it means stripped */
		fprintf(stderr,
			"connstate: warning: %s (pid %d, %s) lacks %s (stripped with -ldflags=-s?): its crypto/tls connections cannot be followed\n",
			shown, pid, x.version, missing);
		exe_close(&x);
		return 0;
	}
	if (!verbose)
		old = libbpf_set_print(quiet_print);
	for (i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		const struct func *f = &x.f[plan[i].func];

		if (plan[i].entry) {
			s.n = 1;
			s.off[0] = f->off;
			s.whole = true;
		} else {
			find_spots(f, plan[i].call < 0 ? 0 : x.f[plan[i].call].addr, &s);
		}
		if (!s.whole || !s.n) {
			snprintf(missing, sizeof(missing), "cannot find the %s of %s",
				 plan[i].call < 0 ? "RET instructions" : "park points",
				 func_names[plan[i].func]);
			break;
		}
		for (j = 0; j < s.n && made < max; j++) {
			/* park points come in pairs: the call, the instruction after */
			struct bpf_program *p = plan[i].prog ?:
				(j % 2 ? skel->progs.go_resume : skel->progs.go_park);

			links[made] = bpf_program__attach_uprobe(p, false, -1, path, s.off[j]);
			if (!links[made]) {
				snprintf(missing, sizeof(missing), "cannot attach a uprobe to %s+%#lx: %s",
					 func_names[plan[i].func],
					 (unsigned long)(s.off[j] - f->off), strerror(errno));
				break;
			}
			made++;
		}
		if (missing[0])
			break;
		if (j < s.n) {
			snprintf(missing, sizeof(missing), "too many probe points");
			break;
		}
	}
	if (!verbose)
		libbpf_set_print(old);
	if (missing[0]) {
		while (made)
			bpf_link__destroy(links[--made]);
		fprintf(stderr,
			"connstate: warning: %s (pid %d, %s): %s; its crypto/tls connections cannot be followed\n",
			shown, pid, x.version, missing);
	} else if (verbose) {
		fprintf(stderr, "connstate: following Go's crypto/tls in %s (%s, %d uprobes)\n", shown,
			x.version, made);
	}
	exe_close(&x);
	return made;
}
