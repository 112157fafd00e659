package direct

import (
	"fmt"
	"strings"
)

// Dump renders a Prog, one step per line (for tests and debugging).
func (p *Prog) Dump() string {
	var sb strings.Builder
	for name, steps := range map[string][]Step{"setup": p.Setup, "target": p.Target} {
		fmt.Fprintf(&sb, "%s:\n", name)
		for i, s := range steps {
			fmt.Fprintf(&sb, "  %3d kind=%d nr=%d args=%x regs=%v save=%d ign=%x jmp=%x->%d ok->%d\n", i, s.Kind, s.Nr, s.Args, s.ArgReg, s.Save, s.Ignore, s.JumpOn, s.JumpTo, s.OKTo)
		}
	}
	return sb.String()
}
