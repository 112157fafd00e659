package main

import (
	"reflect"
	"strings"
)

// A fast path for the everyday command line, "zbox [FLAGS] -- CMD".
//
// kong builds its whole model by reflection, parses every struct tag and
// interpolates the help texts before it looks at the first argument:
// about 0.6 ms and a few thousand allocations, paid on every sandbox
// start even with the run-only grammar. fastRunFlags reads the same
// policyFlags struct tags (name, short, the field's type) and accepts
// only the argument shapes whose meaning is unambiguous; anything else —
// --help, an unknown or negated flag, a value that looks like a flag, a
// short flag glued to its value — returns ok=false and the line goes to
// kong unchanged. TestFastRunFlagsMatchesKong and FuzzFastRunFlags check
// that whenever the fast path accepts a line, kong parses it to the same
// result.

type fastFlag struct {
	index []int
	kind  fastKind
}

type fastKind int

const (
	fastBool fastKind = iota
	fastString
	fastStrings
	fastOptList
)

// fastFlags maps "--name" and "-s" to the policyFlags fields.
func fastFlags() map[string]fastFlag {
	t := reflect.TypeOf(policyFlags{})
	m := make(map[string]fastFlag, 2*t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("name")
		if name == "" {
			continue
		}
		var k fastKind
		switch {
		case f.Type == reflect.TypeOf(optList{}):
			k = fastOptList
		case f.Type.Kind() == reflect.Bool:
			k = fastBool
		case f.Type.Kind() == reflect.String:
			k = fastString
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String && f.Tag.Get("sep") == "none":
			k = fastStrings
		default:
			continue // a type the fast path does not know: kong only
		}
		ff := fastFlag{index: f.Index, kind: k}
		m["--"+name] = ff
		if s := f.Tag.Get("short"); s != "" {
			m["-"+s] = ff
		}
	}
	return m
}

// fastRunFlags parses args ("run" first) like kong parses the run
// command, or returns ok=false.
func fastRunFlags(args []string) (flags policyFlags, command []string, ok bool) {
	if len(args) == 0 || args[0] != "run" {
		return flags, nil, false
	}
	known := fastFlags()
	v := reflect.ValueOf(&flags).Elem()
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			// kong hands the rest over as the command, "--" included
			// (runOrExplain drops it).
			if a != "--" && a != "-" {
				for _, rest := range args[i+1:] {
					if rest == "--" {
						return flags, nil, false // kong's handling of a later "--" is its own
					}
				}
			}
			if a == "-" {
				return flags, nil, false
			}
			return flags, append([]string(nil), args[i:]...), true
		}
		name, value, hasValue := strings.Cut(a, "=")
		f, found := known[name]
		if !found || (hasValue && !strings.HasPrefix(name, "--")) {
			return flags, nil, false
		}
		field := v.FieldByIndex(f.index)
		switch f.kind {
		case fastBool:
			if hasValue {
				return flags, nil, false
			}
			field.SetBool(true)
		case fastOptList:
			o := field.Addr().Interface().(*optList)
			if hasValue {
				o.Values = append(o.Values, value)
			} else {
				o.All = true
				o.Bare++
			}
		case fastString, fastStrings:
			if !hasValue {
				if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
					return flags, nil, false
				}
				i++
				value = args[i]
			}
			if f.kind == fastString {
				field.SetString(value)
			} else {
				field.Set(reflect.Append(field, reflect.ValueOf(value)))
			}
		}
	}
	return flags, nil, true
}
