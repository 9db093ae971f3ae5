// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * jitlines ID: where each source line of BPF program ID starts in its JIT
 * image, one "ADDRESS LINE SOURCE" a line (ADDRESS in hex, as perf prints
 * a sample's instruction pointer), from the program's jited line info and
 * BTF. Debian's bpftool cannot show it (no libbfd), and perf cannot
 * annotate BPF without libopcodes: progcost.sh's profile maps perf samples
 * through this.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n, i;
	struct bpf_line_info *li;
	struct btf *btf;
	__u64 *addr;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: jitlines PROG_ID\n");
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(atoi(argv[1]));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = info.nr_jited_line_info < info.nr_line_info ? info.nr_jited_line_info :
							  info.nr_line_info;
	li = calloc(n ? n : 1, sizeof(*li));
	addr = calloc(n ? n : 1, sizeof(*addr));
	if (!li || !addr)
		return 1;
	/* the second call fills only what is asked for */
	memset(&info, 0, sizeof(info));
	info.nr_line_info = n;
	info.line_info_rec_size = sizeof(*li);
	info.line_info = (__u64)(unsigned long)li;
	info.nr_jited_line_info = n;
	info.jited_line_info_rec_size = sizeof(*addr);
	info.jited_line_info = (__u64)(unsigned long)addr;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	btf = btf__load_from_kernel_by_id(info.btf_id);
	for (i = 0; i < n; i++) {
		const char *src = btf ? btf__name_by_offset(btf, li[i].line_off) : NULL;

		printf("%llx %u %s\n", (unsigned long long)addr[i], BPF_LINE_INFO_LINE_NUM(li[i].line_col),
		       src ? src : "");
	}
	btf__free(btf);
	return 0;
}
