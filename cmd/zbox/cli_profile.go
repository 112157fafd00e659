package main

// zbox profile list | show NAME.

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

func (c *cli) profileList() int {
	store := newProfileStore(c.getenv, c.host.Cwd)
	list, err := store.list()
	if err != nil {
		return c.fail(err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tDESCRIPTION")
	for _, p := range list {
		src := p.Path
		if p.Shadows {
			src += " (shadows the built-in)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, src, p.Description)
	}
	tw.Flush()
	if store.UserDir != "" {
		fmt.Fprintf(c.stdout, "\nUser profiles: %s/NAME.json (they shadow built-ins of the same name).\n", store.UserDir)
	}
	return 0
}

func (c *cli) profileShow(name string, resolved bool) int {
	store := newProfileStore(c.getenv, c.host.Cwd)
	if !resolved {
		p, err := store.lookup(name)
		if err != nil {
			return c.fail(err)
		}
		if _, err := decodeProfile(p); err != nil {
			return c.fail(err)
		}
		c.stdout.Write(p.Data)
		if n := len(p.Data); n > 0 && p.Data[n-1] != '\n' {
			fmt.Fprintln(c.stdout)
		}
		return 0
	}
	layers, applied, err := profileLayers(store, []string{name})
	if err != nil {
		return c.fail(err)
	}
	s, err := resolveSettings(layers, c.host)
	if err != nil {
		return c.fail(err)
	}
	s.Profiles = applied
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return c.fail(err)
	}
	return 0
}
