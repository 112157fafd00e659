package filter

import "testing"

// TestConnectNotifyProgram runs the program on seccomp_data: only a
// native-ABI connect with an address length of exactly 16 is reported;
// everything else, foreign ABIs and x32 included, is allowed (the policy
// program judges those).
func TestConnectNotifyProgram(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		p, err := ConnectNotifyProgram(arch)
		if err != nil {
			t.Fatal(err)
		}
		if p.Arch != arch || p.Name == "" {
			t.Errorf("%s: program named %q for %q", arch, p.Name, p.Arch)
		}
		foreign := call(arch, "connect", 3, 0x1000, 16)
		foreign.arch = auditI386
		cases := []struct {
			name string
			d    seccompData
			want uint32
		}{
			{"connect sockaddr_in", call(arch, "connect", 3, 0x1000, 16), retUserNotif},
			{"connect sockaddr_in, fd with high bits", call(arch, "connect", 3|1<<40, 0x1000, 16), retUserNotif},
			{"connect sockaddr_in6", call(arch, "connect", 3, 0x1000, 28), retAllow},
			{"connect sockaddr_un", call(arch, "connect", 3, 0x1000, 110), retAllow},
			{"connect len 16 + high bits", call(arch, "connect", 3, 0x1000, 16|1<<32), retAllow},
			{"sendto len 16", call(arch, "sendto", 3, 0x1000, 16, 0, 0x2000, 16), retAllow},
			{"socket", call(arch, "socket", 2, 1, 0), retAllow},
			{"foreign ABI", foreign, retAllow},
		}
		if arch == "amd64" {
			x32 := call(arch, "connect", 3, 0x1000, 16)
			x32.nr |= x32SyscallBit
			cases = append(cases, struct {
				name string
				d    seccompData
				want uint32
			}{"x32 connect", x32, retAllow})
		}
		for _, c := range cases {
			got, err := run(p.Insns, c.d)
			if err != nil {
				t.Fatalf("%s/%s: %v", arch, c.name, err)
			}
			if got != c.want {
				t.Errorf("%s/%s: %#x, want %#x", arch, c.name, got, c.want)
			}
		}
	}
	if _, err := ConnectNotifyProgram("mips"); err == nil {
		t.Error("ConnectNotifyProgram(mips): no error")
	}
}
