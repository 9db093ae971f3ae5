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

ifeq ($(STATIC),1)
LIBS := -static -Wl,-Bstatic -lbpf -lelf -lz -lzstd
else
# libbpf statically (one copy of a known version), its deps from the system
LIBS := -Wl,-Bstatic -lbpf -Wl,-Bdynamic -lelf -lz
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# user/ sources split into the pure core (unit-tested, no BPF) and the rest
CORE_SRCS := user/http1.c user/tracker.c user/output.c user/addr.c
APP_SRCS := $(filter-out $(CORE_SRCS),$(wildcard user/*.c))
CORE_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
APP_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(APP_SRCS))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean check unit integration demo format vmtest bench soak deps
.DELETE_ON_ERROR:
# keep the BPF object and skeleton: they are inputs, not leftovers
.SECONDARY: $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS)) $(SKELS)

all: connstate

connstate: $(APP_OBJS) $(CORE_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# the same objects, fully static: one file to copy to a host or into a VM
$(OUTPUT)/connstate-static: $(APP_OBJS) $(CORE_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -static -Wl,-Bstatic -lbpf -lelf -lz -lzstd -o $@

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/connstate.h $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name connstate_bpf > $@

# every user object may include the skeleton; it is cheap to order them
$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) bpf/connstate.h $(SKELS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -c $< -o $@

include tests/tests.mk

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) connstate

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c
