# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Builds ./connstate from bpf/*.bpf.c (CO-RE against vmlinux/) and user/*.c.
# Products go under .output/. `make V=1` shows the full commands.

OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
ARCH := x86
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
INCLUDES := -I$(OUTPUT) -Ibpf -Iuser
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(dir $(VMLINUX)) -Ibpf \
	-Wall -Werror -Wno-unused-function

STATIC_LIBS := -static -Wl,-Bstatic -lbpf -lelf -lz -lzstd -lnghttp2 -lcapstone
# libbpf statically (one copy of a known version), its deps from the system
LIBS := -Wl,-Bstatic -lbpf -Wl,-Bdynamic -lelf -lz -lnghttp2 -lmicrohttpd -lcapstone

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# user/ sources split into the pure core (unit-tested, no BPF) and the rest
CORE_SRCS := user/http1.c user/http2.c user/tracker.c user/output.c user/addr.c user/escape.c \
	user/stats.c user/wakeup.c
APP_SRCS := $(filter-out $(CORE_SRCS),$(wildcard user/*.c))
CORE_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
APP_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(APP_SRCS))
# A static build has no --metrics: libmicrohttpd's archive needs GnuTLS's
# whole static closure, which Debian does not ship.
STATIC_OBJS := $(filter-out $(OUTPUT)/metrics.o,$(APP_OBJS)) $(OUTPUT)/metrics-none.o $(CORE_OBJS)
ifeq ($(STATIC),1)
BIN_OBJS := $(STATIC_OBJS)
LIBS := $(STATIC_LIBS)
else
BIN_OBJS := $(APP_OBJS) $(CORE_OBJS)
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PREFIX ?= /usr/local
SBINDIR := $(PREFIX)/sbin
MANDIR := $(PREFIX)/share/man/man8
COMPLETIONDIR := $(PREFIX)/share/bash-completion/completions

# What the build itself needs; `make deps` installs it. Checked before the
# first compile so a fresh machine gets one line, not a compiler error.
MISSING_TOOLS = $(strip $(foreach t,$(CLANG) $(BPFTOOL) $(CC),$(if $(shell command -v $(t) 2>/dev/null),,$(t))) \
	$(if $(wildcard /usr/include/bpf/libbpf.h),,libbpf-dev) \
	$(if $(wildcard /usr/include/libelf.h /usr/include/libelf/libelf.h),,libelf-dev) \
	$(if $(wildcard /usr/include/zlib.h),,zlib1g-dev) \
	$(if $(wildcard /usr/include/capstone/capstone.h),,libcapstone-dev))

.PHONY: all clean check unit integration demo format vmtest bench soak deps buildtools install uninstall
.DELETE_ON_ERROR:
# keep the BPF object and skeleton: they are inputs, not leftovers
.SECONDARY: $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS)) $(SKELS)

all: connstate

connstate: $(BIN_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# the same objects, fully static: one file to copy to a host or into a VM
$(OUTPUT)/connstate-static: $(STATIC_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(STATIC_LIBS) -o $@

$(OUTPUT)/metrics-none.o: user/metrics.c user/metrics.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -DCS_NO_METRICS -c $< -o $@

$(OUTPUT):
	$(Q)mkdir -p $@

buildtools:
	$(if $(MISSING_TOOLS),$(error connstate: cannot build, missing $(MISSING_TOOLS): run 'make deps' (as root) to install the build dependencies),@:)

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(VMLINUX) | $(OUTPUT) buildtools
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# every user object may include the skeleton; it is cheap to order them
$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) bpf/connstate.h $(SKELS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -c $< -o $@

include tests/tests.mk

install: connstate
	$(call msg,INSTALL,$(DESTDIR)$(SBINDIR)/connstate)
	$(Q)install -D -m 0755 connstate $(DESTDIR)$(SBINDIR)/connstate
	$(Q)install -D -m 0644 docs/connstate.8 $(DESTDIR)$(MANDIR)/connstate.8
	$(Q)install -D -m 0644 docs/connstate.bash-completion $(DESTDIR)$(COMPLETIONDIR)/connstate

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(SBINDIR)/connstate)
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/connstate $(DESTDIR)$(MANDIR)/connstate.8 \
		$(DESTDIR)$(COMPLETIONDIR)/connstate

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) connstate

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c
