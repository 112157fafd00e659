package bwrapcli

import (
	"math"
	"strings"
)

// The number parsers below reproduce what bwrap accepts through the C
// library (strtol, strtoul, strtoull in the "C" locale) followed by
// bwrap's own checks, so that zbox accepts and rejects the same spellings.

// cSpace is isspace() in the "C" locale.
func cSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// scanUnsigned is the common core of strtol/strtoul: optional leading
// white space, an optional sign, then digits in base (2..16). It returns
// the magnitude, whether a '-' was seen, whether any digit was read,
// whether the magnitude overflowed 64 bits, and the index just past the
// last digit.
func scanUnsigned(s string, base uint64) (v uint64, neg, digits, overflow bool, end int) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	for ; i < len(s); i++ {
		d, ok := digitValue(s[i])
		if !ok || d >= base {
			break
		}
		digits = true
		if v > (math.MaxUint64-d)/base {
			overflow = true
			continue
		}
		v = v*base + d
	}
	return v, neg, digits, overflow, i
}

func digitValue(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// parseCInt is bwrap's fd/uid/gid parsing: strtol(s, &end, 10) with s
// non-empty, nothing after the number, and the value ≥ 0. bwrap stores the
// long in an int, so values beyond 2^31-1 wrap in C (4294967301 becomes fd
// 5); zbox rejects them instead.
func parseCInt(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	v, neg, digits, overflow, end := scanUnsigned(s, 10)
	if !digits || end != len(s) || overflow {
		return 0, false
	}
	if neg && v != 0 {
		return 0, false
	}
	if v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

// parseOctalMode is bwrap's --perms/--chmod parsing: strtoul(s, &end, 8),
// s non-empty, nothing after the number, value ≤ 07777. strtoul negates a
// "-N" in unsigned arithmetic, so only "-0" survives the range check.
func parseOctalMode(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	v, neg, digits, overflow, end := scanUnsigned(s, 8)
	if !digits || end != len(s) || overflow {
		return 0, false
	}
	if neg && v != 0 {
		return 0, false
	}
	if v > 0o7777 {
		return 0, false
	}
	return uint32(v), true
}

// parseSize is bwrap's --size parsing: the first character must be a digit
// (no sign, no white space), then strtoull(s, &end, 0) — so "0x…" is hex
// and a leading "0" octal — with nothing after the number, no overflow,
// and a non-zero value. The upper bound is checked by the caller.
func parseSize(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	v, ok := parseBase0(s)
	if !ok || v == 0 {
		return 0, false
	}
	return v, true
}

// parseBase0 parses a whole string the way strtoull(s, &end, 0) does when
// s starts with a digit, requiring end to reach the end of s.
func parseBase0(s string) (uint64, bool) {
	base, body := uint64(10), s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		if _, ok := digitValue(s[2]); ok {
			base, body = 16, s[2:]
		} else {
			// strtoull parses just the "0" and stops at the 'x'.
			return 0, false
		}
	case len(s) > 1 && s[0] == '0':
		base = 8
	}
	v, neg, digits, overflow, end := scanUnsigned(body, base)
	if neg || !digits || overflow || end != len(body) || cSpace(body[0]) {
		return 0, false
	}
	return v, true
}

// capNames are libcap's names, indexed by capability number.
var capNames = [...]string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner",
	"cap_fsetid", "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap",
	"cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
	"cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod",
	"cap_lease", "cap_audit_write", "cap_audit_control", "cap_setfcap",
	"cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

var _ = [1]struct{}{}[len(capNames)-1-lastCap] // capNames must end at lastCap

// capFromName is libcap's cap_from_name as bwrap uses it: a name matched
// case-insensitively ("CAP_NET_ADMIN", "cap_net_admin"), or a number (a
// string starting with a digit, base auto-detected). zbox is stricter than
// libcap in two ways: the whole string must match (libcap ignores trailing
// characters after the name or number), and numbers must name a
// capability Linux has (libcap accepts anything below 64).
func capFromName(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] >= '0' && s[0] <= '9' {
		v, ok := parseBase0(s)
		if !ok || v > lastCap {
			return 0, false
		}
		return int(v), true
	}
	for i, n := range capNames {
		if strings.EqualFold(s, n) {
			return i, true
		}
	}
	return 0, false
}
